/// @file sampler.h
/// @brief Choosing the next token from a row of logits: greedy, temperature, top-k, top-p.
///
/// The model gives one score (logit) \f$ z_i \f$ per vocabulary entry i < V. Sampling turns them
/// into a probability distribution and draws from it, in the usual order
/// (Hugging Face's `generate`; nanoGPT has the first two in the same order):
///
///  1. **temperature** T > 0: \f$ p_i = \exp((z_i - z_{max}) / T) / Z \f$. T < 1 sharpens the
///     distribution, T > 1 flattens it, T -> 0 tends to the argmax (greedy). Subtracting
///     \f$ z_{max} \f$ before dividing by T keeps every exponent <= 0, so even T = 1e-30 gives no
///     inf - inf.
///  2. **top-k**: keep the k most probable tokens, renormalise (k = 0: keep all).
///  3. **top-p** (nucleus, Holtzman et al. 2019): sort by probability, keep the smallest prefix
///     whose mass reaches p (the token that crosses p is kept; at least one token is always kept),
///     renormalise (p = 1: keep all).
///  4. **draw**: u uniform in [0, 1), return the first kept token whose cumulative probability
///     exceeds u.
///
/// Greedy (or temperature 0) skips all of that and returns the argmax; ties go to the lowest id,
/// as `torch.argmax` does.
///
/// Everything is deterministic: one gpt2::Rng, seeded once, and exactly one uniform() per sampled
/// token (none for greedy), so the same seed and the same logits give the same tokens on every
/// machine. Ties in the sorts are broken by the lower token id for the same reason.
///
/// PyTorch / transformers equivalent: `TemperatureLogitsWarper`, `TopKLogitsWarper`,
/// `TopPLogitsWarper`, then `torch.multinomial(softmax(logits), 1)`.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/rng.h"

namespace gpt2 {

/// How to choose the next token. The defaults sample from the model's own distribution.
struct SamplingOptions {
  float temperature = 1.0f;  ///< > 0 scales the logits by 1/T; 0 means greedy
  int top_k = 0;             ///< keep the k most probable tokens; 0 keeps all
  float top_p = 1.0f;        ///< keep the smallest set of tokens with mass >= top_p; 1 keeps all
  bool greedy = false;       ///< always take the argmax (ignores the three above)

  /// Throws gpt2::Error naming the option if temperature < 0 (or not finite), top_k < 0, or top_p
  /// is not in (0, 1].
  void validate() const;
  /// True when this picks the argmax (greedy, or temperature 0).
  bool is_greedy() const { return greedy || temperature == 0.0f; }
};

/// One token still in the running, with its (renormalised) probability.
struct Candidate {
  int id = 0;
  float prob = 0;
};

/// Index of the largest logit (the lowest such index on ties). n = logits.size() >= 1.
/// PyTorch: torch.argmax(logits).
int argmax(std::span<const float> logits);

/// Step 1: every token with its probability softmax(logits / T), in id order. T > 0.
/// Computed in double and stored as float; the probabilities sum to 1 (up to rounding).
std::vector<Candidate> softmax_candidates(std::span<const float> logits, float temperature);

/// The order every filter uses: more probable first, the lower id first on ties.
inline bool more_probable(const Candidate& a, const Candidate& b) {
  return a.prob > b.prob || (a.prob == b.prob && a.id < b.id);
}

/// Step 2: keeps the k most probable candidates, sorted by more_probable, and renormalises them to
/// sum to 1. k <= 0 or k >= size leaves the candidates as they are. Cost O(n + k log k).
void keep_top_k(std::vector<Candidate>& candidates, int k);

/// Step 3: keeps the smallest most-probable prefix whose mass reaches p * (their total), sorted by
/// more_probable, and renormalises it. p >= 1 leaves the candidates as they are. Always keeps at
/// least one candidate.
/// It sorts only as much as it needs (64, 256, 1024, ... candidates), so a peaked distribution
/// over 50257 tokens costs O(V), not O(V log V).
void keep_top_p(std::vector<Candidate>& candidates, float p);

/// The distribution the options describe over `logits` (steps 1-3): the kept candidates, summing
/// to 1 (most probable first when a filter ran, else in id order). For greedy, the argmax alone
/// with probability 1.
std::vector<Candidate> filtered_distribution(std::span<const float> logits, const SamplingOptions& options);

/// Step 4: draws one candidate with probability prob (which must sum to ~1) using u in [0, 1).
/// Returns its id; rounding that leaves u above the last cumulative sum returns the last one.
int draw(std::span<const Candidate> candidates, float u);

/// Chooses tokens from logits rows with fixed options and its own seeded generator.
/// @code
///   gpt2::Sampler sampler({.temperature = 0.8f, .top_k = 40}, /*seed=*/1337);
///   int next = sampler.sample(logits_row);   // logits_row: V floats
/// @endcode
class Sampler {
 public:
  /// Validates the options (throws gpt2::Error on a bad one) and seeds the generator.
  Sampler(SamplingOptions options, uint64_t seed);

  /// The next token for one row of V logits. Consumes one uniform() unless greedy.
  int sample(std::span<const float> logits);

  /// The probability of each of the V tokens under the options (zeros for the tokens filtered
  /// out): what sample() draws from. For tests and for showing the distribution.
  std::vector<float> probabilities(std::span<const float> logits) const;

  const SamplingOptions& options() const { return options_; }
  /// The generator, e.g. to save its state() with a checkpoint.
  Rng& rng() { return rng_; }

 private:
  SamplingOptions options_;
  Rng rng_;
};

}  // namespace gpt2
