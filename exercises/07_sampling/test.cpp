#include <string>
#include <vector>

#include "exercise.h"
#include "tests/catch.h"

namespace {

// Element-wise comparison with a tolerance: the answers are ratios computed in float.
void check_probs(const std::vector<float>& actual, const std::vector<double>& expected) {
  REQUIRE(actual.size() == expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    INFO("index " << i);
    CHECK(actual[i] == Approx(expected[i]).margin(1e-6));
  }
}

}  // namespace

TEST_CASE("07.1 top_k_filter keeps the k most probable tokens, renormalised", "[exercise]") {
  const std::vector<float> probs = {0.1f, 0.4f, 0.2f, 0.3f};
  check_probs(exercise::top_k_filter(probs, 2), {0, 0.4 / 0.7, 0, 0.3 / 0.7});
  check_probs(exercise::top_k_filter(probs, 1), {0, 1, 0, 0});
  check_probs(exercise::top_k_filter(probs, 3), {0, 0.4 / 0.9, 0.2 / 0.9, 0.3 / 0.9});
  check_probs(exercise::top_k_filter(probs, 0), {0.1, 0.4, 0.2, 0.3});
  check_probs(exercise::top_k_filter(probs, 4), {0.1, 0.4, 0.2, 0.3});
  // Ties: the lower index wins.
  check_probs(exercise::top_k_filter({0.25f, 0.25f, 0.25f, 0.25f}, 2), {0.5, 0.5, 0, 0});
}

TEST_CASE("07.2 top_p_filter keeps the nucleus, renormalised", "[exercise]") {
  // Sorted: 0.4 (1), 0.3 (3), 0.2 (2), 0.1 (0); cumulative 0.4, 0.7, 0.9, 1.0.
  const std::vector<float> probs = {0.1f, 0.4f, 0.2f, 0.3f};
  check_probs(exercise::top_p_filter(probs, 0.6f), {0, 0.4 / 0.7, 0, 0.3 / 0.7});
  check_probs(exercise::top_p_filter(probs, 0.8f), {0, 0.4 / 0.9, 0.2 / 0.9, 0.3 / 0.9});
  check_probs(exercise::top_p_filter(probs, 0.3f), {0, 1, 0, 0});           // the top token alone crosses p
  check_probs(exercise::top_p_filter(probs, 0.95f), {0.1, 0.4, 0.2, 0.3});  // needs all four
  check_probs(exercise::top_p_filter(probs, 1.0f), {0.1, 0.4, 0.2, 0.3});
}

TEST_CASE("07.3 utf8_complete_prefix holds back an incomplete last character", "[exercise]") {
  CHECK(exercise::utf8_complete_prefix("") == 0);
  CHECK(exercise::utf8_complete_prefix("ab") == 2);
  CHECK(exercise::utf8_complete_prefix("ab\xC3") == 2);         // é = C3 A9, cut after C3
  CHECK(exercise::utf8_complete_prefix("ab\xC3\xA9") == 4);     // é complete
  CHECK(exercise::utf8_complete_prefix("\xE2\x82") == 0);       // € = E2 82 AC, cut
  CHECK(exercise::utf8_complete_prefix("x\xE2\x82\xAC") == 4);  // € complete
  CHECK(exercise::utf8_complete_prefix("\xF0\x9F\x98") == 0);   // 😀 = F0 9F 98 80, cut
  CHECK(exercise::utf8_complete_prefix("\xF0\x9F\x98\x80") == 4);
  CHECK(exercise::utf8_complete_prefix("a\x80") == 2);  // stray continuation: printed
  CHECK(exercise::utf8_complete_prefix("\xC3"
                                       "A") == 2);  // lead byte then ASCII: invalid, printed
}
