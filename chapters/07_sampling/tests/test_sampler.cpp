// Tests of the Sampler on crafted logits whose distributions are known by hand.
#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "chapters/07_sampling/sampler.h"
#include "common/error.h"
#include "tests/catch.h"

using gpt2::Sampler;
using gpt2::SamplingOptions;

namespace {

// Logits whose softmax at temperature T is proportional to the given weights: z_i = T ln w_i.
std::vector<float> logits_for_weights(const std::vector<double>& weights, double T = 1.0) {
  std::vector<float> z;
  for (double w : weights) z.push_back(static_cast<float>(T * std::log(w)));
  return z;
}

// Draws n samples and counts them per token id.
std::map<int, int> histogram(Sampler& sampler, const std::vector<float>& logits, int n) {
  std::map<int, int> counts;
  for (int i = 0; i < n; ++i) ++counts[sampler.sample(logits)];
  return counts;
}

// Pearson's chi-square statistic of observed counts against expected probabilities.
double chi_square(const std::map<int, int>& counts, const std::vector<double>& expected, int n) {
  double chi2 = 0;
  for (size_t id = 0; id < expected.size(); ++id) {
    if (expected[id] == 0) continue;
    auto it = counts.find(static_cast<int>(id));
    const double observed = it == counts.end() ? 0 : it->second;
    const double e = n * expected[id];
    chi2 += (observed - e) * (observed - e) / e;
  }
  return chi2;
}

// Checks a sampler against the distribution `expected` (one probability per token id):
// probabilities() equals it, n draws never pick a token of probability 0, and the frequencies pass
// a chi-square test at the 0.001 level (`chi2_bound` for the number of allowed tokens - 1 degrees
// of freedom). The seed is fixed, so the outcome is deterministic; the bound says the frequencies
// are what a correct sampler gives.
void check_distribution(Sampler& sampler, const std::vector<float>& logits,
                        const std::vector<double>& expected, int n, double chi2_bound) {
  const std::vector<float> p = sampler.probabilities(logits);
  REQUIRE(p.size() == expected.size());
  for (size_t i = 0; i < p.size(); ++i) CHECK(p[i] == Approx(expected[i]).margin(1e-6));
  const std::map<int, int> counts = histogram(sampler, logits, n);
  for (const auto& [id, count] : counts) {
    INFO("token " << id << " chosen " << count << " times");
    CHECK(expected[id] > 0);
  }
  const auto allowed = std::count_if(expected.begin(), expected.end(), [](double e) { return e > 0; });
  CHECK(counts.size() == static_cast<size_t>(allowed));  // and every allowed token does occur
  const double chi2 = chi_square(counts, expected, n);
  INFO("chi2 = " << chi2);
  CHECK(chi2 < chi2_bound);
}

// Chi-square quantiles at P = 0.001 for 1, 2 and 5 degrees of freedom.
constexpr double kChi2Df1 = 10.83, kChi2Df2 = 13.82, kChi2Df5 = 20.52;

}  // namespace

TEST_CASE("greedy picks the argmax, the first one on ties", "[sampler]") {
  const std::vector<float> logits = {0.5f, 3.0f, -1.0f, 3.0f, 2.9f};
  Sampler greedy({.greedy = true}, 1);
  Sampler temperature_zero({.temperature = 0.0f}, 2);
  for (int i = 0; i < 10; ++i) {
    CHECK(greedy.sample(logits) == 1);
    CHECK(temperature_zero.sample(logits) == 1);
  }
  CHECK(gpt2::argmax(std::vector<float>{-5.0f}) == 0);
  CHECK(gpt2::argmax(std::vector<float>{-5.0f, -4.0f, -4.5f}) == 1);
  // Greedy ignores top-k / top-p and consumes no random numbers.
  Sampler g2({.temperature = 0.7f, .top_k = 2, .top_p = 0.5f, .greedy = true}, 7);
  const uint64_t state = g2.rng().state();
  CHECK(g2.sample(logits) == 1);
  CHECK(g2.rng().state() == state);
}

TEST_CASE("temperature towards 0 behaves like greedy", "[sampler]") {
  // Logit gaps of 0.01: at T = 1e-4 the runner-up has probability exp(-100) ~ 4e-44 (a float
  // denormal), at smaller T exactly 0.
  const std::vector<float> logits = {1.00f, 1.01f, 0.99f, 1.005f, -3.0f};
  for (float T : {1e-4f, 1e-10f, 1e-30f}) {
    Sampler s({.temperature = T}, 42);
    for (int i = 0; i < 200; ++i) REQUIRE(s.sample(logits) == 1);
    const std::vector<float> p = s.probabilities(logits);
    CHECK(p[1] == 1.0f);
    CHECK(p[0] < 1e-40f);
  }
}

TEST_CASE("temperature 1 samples the softmax: frequencies match the probabilities", "[sampler]") {
  // Weights 1..6: p_i = w_i / 21.
  const std::vector<double> weights = {1, 2, 3, 4, 5, 6};
  const std::vector<float> logits = logits_for_weights(weights);
  std::vector<double> expected;
  for (double w : weights) expected.push_back(w / 21.0);
  Sampler s({}, 1234);
  check_distribution(s, logits, expected, 100000, kChi2Df5);
}

TEST_CASE("temperature 2 flattens: p is proportional to exp(z / 2)", "[sampler]") {
  // z = 2 ln w, so exp(z / 2) = w: the weights 1, 4, 9 give p = 1/14, 4/14, 9/14.
  const std::vector<float> logits = logits_for_weights({1, 4, 9}, 2.0);
  Sampler s({.temperature = 2.0f}, 5);
  check_distribution(s, logits, {1.0 / 14, 4.0 / 14, 9.0 / 14}, 60000, kChi2Df2);
}

TEST_CASE("top-k never chooses outside the k most probable tokens", "[sampler]") {
  // The three largest logits are at ids 7, 2 and 4; a high temperature makes the others likely too
  // before filtering, so a broken filter would show up quickly.
  std::vector<float> logits(10, 0.0f);
  logits[7] = 3.0f;
  logits[2] = 2.5f;
  logits[4] = 2.0f;
  logits[9] = 1.9f;
  Sampler s({.temperature = 5.0f, .top_k = 3}, 99);
  // Within the set, p is the softmax of z / 5 over the three (computed here from the definition).
  const double e7 = std::exp(3.0 / 5), e2 = std::exp(2.5 / 5), e4 = std::exp(2.0 / 5);
  const double Z = e7 + e2 + e4;
  std::vector<double> expected(10, 0.0);
  expected[7] = e7 / Z;
  expected[2] = e2 / Z;
  expected[4] = e4 / Z;
  check_distribution(s, logits, expected, 20000, kChi2Df2);
  // k = 1 is greedy; k >= V keeps everything.
  Sampler k1({.top_k = 1}, 3);
  for (int i = 0; i < 100; ++i) REQUIRE(k1.sample(logits) == 7);
  Sampler kv({.top_k = 10}, 3);
  const std::vector<float> all = kv.probabilities(logits);
  CHECK(std::count(all.begin(), all.end(), 0.0f) == 0);
}

TEST_CASE("top-p keeps the smallest set whose mass reaches p", "[sampler]") {
  // p = (0.05, 0.5, 0.1, 0.2, 0.15) at ids 0..4. Sorted: 0.5 (1), 0.2 (3), 0.15 (4), 0.1 (2), 0.05 (0).
  // Cumulative: 0.5, 0.7, 0.85, 0.95, 1.0. top_p = 0.8 keeps {1, 3, 4} (0.7 < 0.8 <= 0.85).
  const std::vector<float> logits = logits_for_weights({0.05, 0.5, 0.1, 0.2, 0.15});
  Sampler s({.top_p = 0.8f}, 2024);
  check_distribution(s, logits, {0, 0.5 / 0.85, 0, 0.2 / 0.85, 0.15 / 0.85}, 30000, kChi2Df2);
  // A p below the largest probability keeps only the most probable token.
  Sampler tiny({.top_p = 0.3f}, 1);
  for (int i = 0; i < 100; ++i) REQUIRE(tiny.sample(logits) == 1);
  // p = 0.6 is crossed by the second token (0.5 < 0.6 <= 0.7): two tokens, 0.5 / 0.7 and 0.2 / 0.7.
  Sampler two({.top_p = 0.6f}, 8);
  check_distribution(two, logits, {0, 0.5 / 0.7, 0, 0.2 / 0.7, 0}, 20000, kChi2Df1);
}

TEST_CASE("top-p over a flat 50257-token vocabulary keeps the exact nucleus", "[sampler]") {
  // Nearly uniform logits put thousands of tokens in the nucleus, so keep_top_p must widen its
  // sorted prefix several times. Compare with the definition computed by a full sort here.
  const int V = 50257;
  gpt2::Rng rng(5);
  std::vector<float> logits(V);
  for (float& z : logits) z = 0.1f * rng.normal();
  const float top_p = 0.9f;
  std::vector<gpt2::Candidate> all = gpt2::softmax_candidates(logits, 1.0f);
  std::sort(all.begin(), all.end(), gpt2::more_probable);
  double cumulative = 0;
  size_t keep = 0;
  while (cumulative < top_p) cumulative += all[keep++].prob;
  std::vector<gpt2::Candidate> ours = gpt2::softmax_candidates(logits, 1.0f);
  gpt2::keep_top_p(ours, top_p);
  REQUIRE(ours.size() == keep);
  CHECK(keep > 40000);
  for (size_t i = 0; i < keep; ++i) REQUIRE(ours[i].id == all[i].id);
}

TEST_CASE("temperature, top-k and top-p combine in that order", "[sampler]") {
  // At T = 2, z = 2 ln w gives p proportional to w = (1, 8, 2, 4, 16, 0.5, 0.25).
  // top-k = 4 keeps 16, 8, 4, 2 (sum 30): p = 16/30, 8/30, 4/30, 2/30.
  // top-p = 0.75: cumulative 0.533, 0.8 -> keeps 16 and 8: p = 2/3 (id 4), 1/3 (id 1).
  const std::vector<float> logits = logits_for_weights({1, 8, 2, 4, 16, 0.5, 0.25}, 2.0);
  Sampler s({.temperature = 2.0f, .top_k = 4, .top_p = 0.75f}, 77);
  check_distribution(s, logits, {0, 1.0 / 3, 0, 0, 2.0 / 3, 0, 0}, 30000, kChi2Df1);
  // Top-p applies to the distribution renormalised after top-k: without top-k, 0.75 of the mass
  // (total 31.75) is 16 + 8 = 24 of 31.75 = 0.756, which also keeps {16, 8}; but top_p = 0.78
  // separates the two orders: after top-k 16/30 + 8/30 = 0.8 >= 0.78 keeps two tokens, without
  // top-k 24/31.75 = 0.756 < 0.78 needs a third.
  const std::vector<float> with_k =
      Sampler({.temperature = 2.0f, .top_k = 4, .top_p = 0.78f}, 1).probabilities(logits);
  const std::vector<float> without_k =
      Sampler({.temperature = 2.0f, .top_p = 0.78f}, 1).probabilities(logits);
  CHECK(std::count_if(with_k.begin(), with_k.end(), [](float x) { return x > 0; }) == 2);
  CHECK(std::count_if(without_k.begin(), without_k.end(), [](float x) { return x > 0; }) == 3);
}

TEST_CASE("the same seed gives the same choices, another seed others", "[sampler]") {
  gpt2::Rng rng(11);
  std::vector<float> logits(1000);
  for (float& z : logits) z = rng.normal();
  const SamplingOptions options{.temperature = 1.0f, .top_k = 50, .top_p = 0.95f};
  Sampler a(options, 123), b(options, 123), c(options, 124);
  std::vector<int> sa, sb, sc;
  for (int i = 0; i < 50; ++i) {
    sa.push_back(a.sample(logits));
    sb.push_back(b.sample(logits));
    sc.push_back(c.sample(logits));
  }
  CHECK(sa == sb);
  CHECK(sa != sc);
}

TEST_CASE("bad sampling options are clear errors", "[sampler]") {
  auto message = [](SamplingOptions o) {
    try {
      Sampler s(o, 1);
    } catch (const gpt2::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(message({.temperature = -1.0f}), Catch::Contains("temperature"));
  CHECK_THAT(message({.temperature = NAN}), Catch::Contains("temperature"));
  CHECK_THAT(message({.top_k = -3}), Catch::Contains("top_k"));
  CHECK_THAT(message({.top_p = 0.0f}), Catch::Contains("top_p"));
  CHECK_THAT(message({.top_p = 1.5f}), Catch::Contains("top_p"));
  Sampler ok({}, 1);
  CHECK_THROWS_AS(ok.sample(std::vector<float>{}), gpt2::Error);
}
