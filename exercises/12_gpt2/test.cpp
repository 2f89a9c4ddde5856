#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>
#include <vector>

#include "common/error.h"
#include "exercise.h"
#include "tests/catch.h"

TEST_CASE("12.1 scores: loss, perplexity and bits per byte of the predicted tokens", "[exercise]") {
  const exercise::Scores s = exercise::scores({"To", " be", ","}, {2.0, 1.0});
  CHECK(s.loss == Approx(1.5));
  CHECK(s.perplexity == Approx(std::exp(1.5)));
  CHECK(s.bits_per_byte == Approx(3.0 / (std::numbers::ln2 * 4)));  // " be" and "," : 4 bytes
  // Multi-byte characters count as their bytes: "é" is 2.
  const exercise::Scores u = exercise::scores({"caf", "\xC3\xA9", "!"}, {0.5, 0.25});
  CHECK(u.loss == Approx(0.375));
  CHECK(u.bits_per_byte == Approx(0.75 / (std::numbers::ln2 * 3)));
}

TEST_CASE("12.2 sliding_windows: each token after the first predicted once", "[exercise]") {
  using W = exercise::Window;
  CHECK(exercise::sliding_windows(10, 4, 2) == std::vector<W>{{0, 4, 1}, {2, 4, 5}, {4, 4, 7}, {5, 4, 9}});
  CHECK(exercise::sliding_windows(10, 4, 4) == std::vector<W>{{0, 4, 1}, {4, 4, 5}, {5, 4, 9}});
  CHECK(exercise::sliding_windows(4, 8, 4) == std::vector<W>{{0, 3, 1}});  // shorter than the context
  CHECK(exercise::sliding_windows(1, 8, 4).empty());
  CHECK(exercise::sliding_windows(0, 8, 4).empty());
  // Every token 1 .. N-1 once, for many shapes.
  for (int64_t N : {2, 7, 33, 100}) {
    for (int max_T : {1, 5, 16}) {
      for (int stride = 1; stride <= max_T; ++stride) {
        std::vector<int> times(static_cast<size_t>(N), 0);
        for (const W& w : exercise::sliding_windows(N, max_T, stride))
          for (int64_t t = w.first_target; t <= w.start + w.length; ++t) ++times[static_cast<size_t>(t)];
        INFO("N " << N << " max_T " << max_T << " stride " << stride);
        CHECK(times[0] == 0);
        for (int64_t t = 1; t < N; ++t) CHECK(times[static_cast<size_t>(t)] == 1);
      }
    }
  }
}

TEST_CASE("12.3 steps_for_budget: the schedule that fits the time", "[exercise]") {
  CHECK(exercise::steps_for_budget(1.0, 0.2, 103.0, 100, 10) == 98);
  CHECK(exercise::steps_for_budget(0.5, 0.1, 300.0, 0, 10) == 582);  // no validation: 300 / 0.515
  CHECK(exercise::steps_for_budget(10.0, 1.0, 1.0, 0, 1) == 1);      // at least one step
}

TEST_CASE("12.4 parse_int_option: the value, or one error naming the flag", "[exercise]") {
  CHECK(exercise::parse_int_option("--steps", "1000", 1, 1000000) == 1000);
  CHECK(exercise::parse_int_option("--seed", "-7", -10, 10) == -7);
  CHECK(exercise::parse_int_option("--seed", "9223372036854775807", 0, INT64_MAX) == INT64_MAX);
  // Not an integer: the message names the flag and quotes the text.
  for (const char* bad :
       {"", "12x", "x12", " 12", "12 ", "+12", "1e3", "1.5", "--", "0x10", "99999999999999999999"}) {
    INFO("text '" << bad << "'");
    CHECK_THROWS_WITH(exercise::parse_int_option("--steps", bad, 1, 1000000),
                      Catch::Contains("option '--steps' expects an integer, got '" + std::string(bad) + "'"));
  }
  // An integer outside the range: the message gives the range and the value.
  CHECK_THROWS_WITH(exercise::parse_int_option("--steps", "0", 1, 1000000),
                    Catch::Contains("option '--steps' must be between 1 and 1000000, got 0"));
  CHECK_THROWS_WITH(exercise::parse_int_option("--n-layer", "1000", 1, 64),
                    Catch::Contains("option '--n-layer' must be between 1 and 64, got 1000"));
  CHECK_THROWS_AS(exercise::parse_int_option("--steps", "abc", 1, 10),
                  gpt2::Error);  // the course's one error type
}
