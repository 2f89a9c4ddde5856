// Shared by chapter 01's tests: GPT-2's tokenizer, loaded once per test program.
#pragma once

#include "chapters/01_tokenizer/tokenizer.h"
#include "common/error.h"
#include "common/testing.h"

#include <string>

inline const gpt2::Tokenizer& gpt2_tokenizer() {
  static const gpt2::Tokenizer tok = gpt2::Tokenizer::load(gpt2::data_dir() + "/gpt2");
  return tok;
}

/// The message of the gpt2::Error that `f()` throws, or "(no error)" (portable across Catch2 2 and 3).
template <typename F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const gpt2::Error& e) {
    return e.what();
  }
  return "(no error)";
}

/// CHECK_ERROR(expression, "part of the message"): the expression throws gpt2::Error with that text.
#define CHECK_ERROR(expr, part)                                    \
  do {                                                             \
    const std::string msg_ = error_message([&] { (void)(expr); }); \
    INFO("message: " << msg_);                                     \
    CHECK(msg_.find(part) != std::string::npos);                   \
  } while (0)
