// Running `gpt2 <args...>` in-process with string streams, for the chapter's tests.
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include "chapters/12_gpt2/commands.h"

namespace gpt2_test {

/// What a command printed, and its exit status.
struct Result {
  int status;
  std::string out, err;
};

/// Runs the program's command `args` with `input` on stdin.
inline Result gpt2_run(std::vector<std::string> args, const std::string& input = "") {
  std::istringstream in(input);
  std::ostringstream out, err;
  int status = gpt2::run_gpt2(args, {in, out, err});
  return {status, out.str(), err.str()};
}

inline bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace gpt2_test
