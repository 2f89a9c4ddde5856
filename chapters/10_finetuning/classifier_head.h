/// @file classifier_head.h
/// @brief A classification head on the last token's hidden state: logits over K classes.
///
/// A causal language model's hidden state at position t has seen tokens 0..t and nothing after.
/// To classify a whole text we therefore read the state of its LAST token, the only one that has
/// seen all of it, and map it to K class scores with one matrix:
///
///   pooled[b, c] = hidden[b, last[b], c]                   (B, C)   the last real token of row b
///   logits[b, k] = sum_c pooled[b, c] * weight[k, c]       (B, K)
///
/// `hidden` is the final LayerNorm's output (B, T, C), what the language-model head would read;
/// `last[b]` is the position of row b's last token (rows shorter than T are padded after it).
/// The weight is stored (K, C), like nn.Linear's (out, in) and like the tied language-model head,
/// so the product is chapter 05's lm_head_forward with K classes in place of V tokens. There is
/// no bias, as in transformers' GPT2ForSequenceClassification (its `score` layer): ln_f's bias
/// already feeds a constant into every logit (weight @ ln_f.bias), which serves as one.
///
/// Backward, with g = dL/dlogits (B, K):
///
///   dweight[k, c]            += sum_b g[b, k] * pooled[b, c]
///   dhidden[b, last[b], c]   += sum_k g[b, k] * weight[k, c]   (every other position gets 0)
///
/// The loss is the cross-entropy over the K classes, chapter 05's cross_entropy_forward with
/// V = K, one row per text, averaged over the rows (dloss = 1 / B).
///
/// PyTorch: `score = nn.Linear(C, K, bias=False)`; `logits = score(hidden)[arange(B), last]`;
/// `F.cross_entropy(logits, labels)` (GPT2ForSequenceClassification pools the same way, at the
/// last token that is not padding).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "chapters/05_gpt2_model/lm_head.h"
#include "common/rng.h"

namespace gpt2 {

/// The head's initialisation, as transformers initialises `score`: weight (K, C) drawn from
/// normal(0, 0.02) by gpt2::Rng(seed). Small, so every class starts near probability 1 / K.
inline void classifier_head_init(float* weight, int K, int C, uint64_t seed) {
  Rng rng(seed);
  rng.fill_normal(std::span<float>(weight, static_cast<size_t>(K) * C), 0.0f, 0.02f);
}

/// pooled (B, C) = hidden[b, last[b]] for each row b of hidden (B, T, C), then
/// logits (B, K) = pooled @ weight (K, C)^T. Each last[b] is in [0, T).
template <typename F>
void classifier_forward(F* logits, F* pooled, const F* hidden, const int* last, const F* weight, int B, int T,
                        int C, int K) {
  for (int b = 0; b < B; ++b) {
    const F* h = hidden + (static_cast<size_t>(b) * T + last[b]) * C;
    F* p = pooled + static_cast<size_t>(b) * C;
    for (int c = 0; c < C; ++c) p[c] = h[c];
  }
  lm_head_forward(logits, pooled, weight, B, C, K);
}

/// Accumulates dhidden (B, T, C) (at the positions last[b] only) and dweight (K, C) from
/// dlogits (B, K), given the forward's pooled (B, C). Either gradient may be null.
template <typename F>
void classifier_backward(F* dhidden, F* dweight, const F* dlogits, const F* pooled, const int* last,
                         const F* weight, int B, int T, int C, int K) {
  // dpooled (B, C) = dlogits @ weight; then each row goes back to the position it came from.
  std::vector<F> dpooled(dhidden ? static_cast<size_t>(B) * C : 0, F(0));
  lm_head_backward(dhidden ? dpooled.data() : nullptr, dweight, dlogits, pooled, weight, B, C, K);
  if (!dhidden) return;
  for (int b = 0; b < B; ++b) {
    F* dh = dhidden + (static_cast<size_t>(b) * T + last[b]) * C;
    const F* dp = dpooled.data() + static_cast<size_t>(b) * C;
    for (int c = 0; c < C; ++c) dh[c] += dp[c];
  }
}

}  // namespace gpt2
