// A made-up exercise, one task of each kind, to test the verdict lines of tests/exercise_report.h
// (tests/CMakeLists.txt runs each case and matches its line).
#include <vector>

#include "common/error.h"
#include "common/testing.h"
#include "tests/exercise_report.h"

namespace {
int right_function() {
  return 2;
}
int stub_function() {
  throw gpt2::Error("exercise 99.2 stub_function: not implemented yet");
}
}  // namespace

TEST_CASE("99.1 a right answer", "[exercise]") {
  CHECK(right_function() == 2);
}

TEST_CASE("99.2 an unfinished stub", "[exercise]") {
  CHECK(stub_function() == 2);
}

TEST_CASE("99.3 needs another task", "[exercise]") {
  const int x = stub_function();
  CHECK(x == 2);
}

TEST_CASE("99.4 a wrong array", "[exercise]") {
  const std::vector<float> ours = {1, 2, 4}, expected = {1, 2, 6};
  auto r = gpt2::rel_close(ours, expected, 1e-5);
  INFO(r.message);
  CHECK(r.ok);
}

TEST_CASE("99.5 a wrong value", "[exercise]") {
  CHECK(1 + 1 == 3);
}

TEST_CASE("99.6 a stray exception", "[exercise]") {
  const std::vector<int> v(3);
  GPT2_CHECK(v.size() > 7, "index 7 out of range");
}

TEST_CASE("99.7 needs a GPU", "[exercise]") {
  const bool have_gpu = false;
  if (!have_gpu) GPT2_EXERCISE_SKIP("no GPU here");
  CHECK(false);
}
