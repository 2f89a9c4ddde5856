// Sampling: see sampler.h for the maths and the order of the steps.
#include "chapters/07_sampling/sampler.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace gpt2 {

void SamplingOptions::validate() const {
  GPT2_CHECK(std::isfinite(temperature) && temperature >= 0.0f,
             "temperature must be >= 0 (0 means greedy), got ", temperature);
  GPT2_CHECK(top_k >= 0, "top_k must be >= 0 (0 keeps every token), got ", top_k);
  GPT2_CHECK(top_p > 0.0f && top_p <= 1.0f, "top_p must be in (0, 1] (1 keeps every token), got ", top_p);
}

int argmax(std::span<const float> logits) {
  int best = 0;
  for (size_t i = 1; i < logits.size(); ++i) {
    if (logits[i] > logits[best]) best = static_cast<int>(i);  // strict >: the first maximum wins
  }
  return best;
}

std::vector<Candidate> softmax_candidates(std::span<const float> logits, float temperature) {
  const float zmax = logits[argmax(logits)];
  std::vector<Candidate> candidates(logits.size());
  double sum = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    // exp((z_i - z_max) / T): the exponent is <= 0, so the value is in [0, 1] and the max gives 1.
    const double e = std::exp((static_cast<double>(logits[i]) - zmax) / temperature);
    candidates[i] = {static_cast<int>(i), static_cast<float>(e)};
    sum += e;
  }
  for (Candidate& c : candidates) c.prob = static_cast<float>(c.prob / sum);
  return candidates;
}

// Scales the probabilities of the candidates to sum to 1 (the sum is taken in double).
static void renormalise(std::vector<Candidate>& candidates) {
  double sum = 0;
  for (const Candidate& c : candidates) sum += c.prob;
  for (Candidate& c : candidates) c.prob = static_cast<float>(c.prob / sum);
}

void keep_top_k(std::vector<Candidate>& candidates, int k) {
  if (k <= 0 || static_cast<size_t>(k) >= candidates.size()) return;
  // partial_sort puts the k most probable first, in order, in O(n log k); the rest is dropped.
  std::partial_sort(candidates.begin(), candidates.begin() + k, candidates.end(), more_probable);
  candidates.resize(k);
  renormalise(candidates);
}

void keep_top_p(std::vector<Candidate>& candidates, float p) {
  if (p >= 1.0f || candidates.empty()) return;
  double total = 0;
  for (const Candidate& c : candidates) total += c.prob;
  const double target = p * total;
  // Sort a prefix of n candidates; if the nucleus ends inside it we are done, else sort a larger
  // prefix. Language models are usually peaked, so n = 64 nearly always suffices.
  size_t n = std::min<size_t>(64, candidates.size());
  while (true) {
    std::partial_sort(candidates.begin(), candidates.begin() + n, candidates.end(), more_probable);
    double cumulative = 0;
    for (size_t i = 0; i < n; ++i) {
      cumulative += candidates[i].prob;
      if (cumulative >= target) {  // candidate i crosses p: keep 0..i
        candidates.resize(i + 1);
        renormalise(candidates);
        return;
      }
    }
    if (n == candidates.size()) return;  // rounding kept the sum below p * total: keep all
    n = std::min(n * 4, candidates.size());
  }
}

std::vector<Candidate> filtered_distribution(std::span<const float> logits, const SamplingOptions& options) {
  GPT2_CHECK(!logits.empty(), "sampling: the logits row is empty");
  if (options.is_greedy()) return {Candidate{argmax(logits), 1.0f}};
  std::vector<Candidate> candidates = softmax_candidates(logits, options.temperature);
  keep_top_k(candidates, options.top_k);
  keep_top_p(candidates, options.top_p);
  return candidates;
}

int draw(std::span<const Candidate> candidates, float u) {
  float cumulative = 0;
  for (const Candidate& c : candidates) {
    cumulative += c.prob;
    if (u < cumulative) return c.id;
  }
  return candidates.back().id;  // u >= the rounded total (it is ~1): the last one
}

Sampler::Sampler(SamplingOptions options, uint64_t seed) : options_(options), rng_(seed) {
  options_.validate();
}

int Sampler::sample(std::span<const float> logits) {
  if (options_.is_greedy()) {
    GPT2_CHECK(!logits.empty(), "sampling: the logits row is empty");
    return argmax(logits);
  }
  const std::vector<Candidate> candidates = filtered_distribution(logits, options_);
  return draw(candidates, rng_.uniform());
}

std::vector<float> Sampler::probabilities(std::span<const float> logits) const {
  std::vector<float> probs(logits.size(), 0.0f);
  for (const Candidate& c : filtered_distribution(logits, options_)) probs[c.id] = c.prob;
  return probs;
}

}  // namespace gpt2
