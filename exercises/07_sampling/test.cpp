#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include "chapters/04_transformer_block/multihead_attention.h"
#include "common/rng.h"
#include "common/testing.h"
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

TEST_CASE("07.4 attention_decode_step: token by token equals attention over the whole sequence",
          "[exercise]") {
  // The reference: chapter 04's multi-head causal attention over all T positions at once (tested
  // there against PyTorch). Decoding the same positions one by one with the cache must give each
  // position's row.
  for (auto [NH, HS, T, maxT] : {std::tuple{1, 4, 1, 1}, std::tuple{2, 5, 9, 12}, std::tuple{4, 8, 16, 16}}) {
    const int C = NH * HS;
    gpt2::Rng rng(static_cast<uint64_t>(7 + T));
    std::vector<float> qkv(static_cast<size_t>(T) * 3 * C);
    rng.fill_normal(qkv, 0.0f, 1.5f);
    std::vector<float> expected(static_cast<size_t>(T) * C), qkvh(qkv.size()),
        att(static_cast<size_t>(NH) * T * T);
    gpt2::multihead_attention_forward(expected.data(), qkvh.data(), att.data(), qkv.data(), 1, T, C, NH);

    // NaN everywhere: reading a row before it is written (s > pos) shows up in the output.
    std::vector<float> k(static_cast<size_t>(NH) * maxT * HS, NAN), v(k.size(), NAN);
    const exercise::LayerKVCache cache{k.data(), v.data(), NH, maxT, HS};
    std::vector<float> out(static_cast<size_t>(T) * C, NAN);
    for (int t = 0; t < T; ++t)
      exercise::attention_decode_step(out.data() + static_cast<size_t>(t) * C, cache,
                                      qkv.data() + static_cast<size_t>(t) * 3 * C, t);
    INFO("NH " << NH << " HS " << HS << " T " << T);
    auto r = gpt2::allclose(out, expected, 1e-5, 1e-6, "decoded attention outputs");
    INFO(r.message);
    CHECK(r.ok);
    // The cache holds every position's key and value, head by head; rows after T untouched.
    for (int h = 0; h < NH; ++h) {
      for (int t = 0; t < maxT; ++t) {
        for (int i = 0; i < HS; ++i) {
          const size_t at = (static_cast<size_t>(h) * maxT + t) * HS + i;
          if (t < T) {
            CHECK(k[at] == qkv[static_cast<size_t>(t) * 3 * C + C + h * HS + i]);
            CHECK(v[at] == qkv[static_cast<size_t>(t) * 3 * C + 2 * C + h * HS + i]);
          } else {
            CHECK(std::isnan(k[at]));
            CHECK(std::isnan(v[at]));
          }
        }
      }
    }
  }
}

TEST_CASE("07.4 attention_decode_step: large scores do not overflow", "[exercise]") {
  // One head, HS = 1: scores q k_s = 1000 s, exp(1000) is inf in float without the max trick.
  std::vector<float> k(3, NAN), v(3, NAN), out(1);
  const exercise::LayerKVCache cache{k.data(), v.data(), 1, 3, 1};
  const float rows[3][3] = {
      {1000.0f, 0.0f, 1.0f}, {1000.0f, 1.0f, 2.0f}, {1000.0f, 1.0f, 3.0f}};  // q | k | v
  exercise::attention_decode_step(out.data(), cache, rows[0], 0);
  CHECK(out[0] == Approx(1.0));
  exercise::attention_decode_step(out.data(), cache, rows[1], 1);
  CHECK(out[0] == Approx(2.0));  // score 1000 against 0: all weight on position 1
  exercise::attention_decode_step(out.data(), cache, rows[2], 2);
  CHECK(out[0] == Approx(2.5));  // two equal scores of 1000: the mean of 2 and 3
}
