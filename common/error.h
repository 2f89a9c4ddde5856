/// @file error.h
/// @brief The one exception type of the project and the check macros that throw it.
///
/// Every error a user can cause (a missing file, a bad flag, a broken checkpoint) ends up as a
/// gpt2::Error whose message names the thing at fault and what was expected, for example
/// `model.safetensors: tensor 'wte.weight' has shape [10, 4], expected [50257, 768]`.
/// Library code never calls exit(): the command-line program catches Error, prints the message
/// and returns a non-zero status; tests can check that the right message is thrown.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace gpt2 {

/// The project's exception: a message meant for a person.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Concatenates anything that can be written to an ostream: `cat("expected ", 3, " got ", x)`.
/// (g++ 12 has no std::format yet.)
template <typename... Args>
std::string cat(Args&&... args) {
  std::ostringstream out;
  (out << ... << std::forward<Args>(args));
  return out.str();
}

/// Throws gpt2::Error with the concatenated message.
template <typename... Args>
[[noreturn]] void fail(Args&&... args) {
  throw Error(cat(std::forward<Args>(args)...));
}

}  // namespace gpt2

/// GPT2_CHECK(cond, message parts...): throws gpt2::Error(message) when cond is false.
/// Use it at boundaries (files, flags, user input, tensor shapes); the message parts are only
/// evaluated when the check fails.
#define GPT2_CHECK(cond, ...)               \
  do {                                      \
    if (!(cond)) ::gpt2::fail(__VA_ARGS__); \
  } while (0)
