/// @file dropout.h
/// @brief Inverted dropout as GPT-2 uses it, with masks drawn from gpt2::Rng: forward and backward.
///
/// The model applies it (gpt2.cpp, in training mode only, through the Backend's dropout
/// operations); chapter 10's README teaches it, where fine-tuning first needs it.
///
/// While training, dropout sets each element of an activation to 0 with probability p and scales
/// the survivors by 1 / (1 - p):
///
///   out[i] = keep[i] * inp[i] / (1 - p),      keep[i] = 1 with probability 1 - p, else 0
///
/// The scaling ("inverted" dropout) keeps the expected value of every element unchanged,
/// E[out[i]] = (1 - p) * inp[i] / (1 - p) = inp[i], so at evaluation time dropout is simply off
/// (out = inp) and nothing needs rescaling. The backward pass lets the gradient through exactly
/// where the forward let the value through, with the same scale:
///
///   dinp[i] += keep[i] * dout[i] / (1 - p)
///
/// GPT-2 (transformers' GPT2Model) has three dropout probabilities in its config.json:
/// `embd_pdrop` after wte + wpe, `attn_pdrop` on the attention weights after the softmax, and
/// `resid_pdrop` on the output of each residual branch (after attn.c_proj and after mlp.c_proj),
/// each 0.1 in OpenAI's models. PyTorch: `torch.nn.functional.dropout(x, p, training=True)`.
///
/// **Where the masks come from.** A run must be reproducible (same seed, same masks) and
/// resumable (a run continued from a checkpoint draws the masks it would have drawn), whatever
/// the number of threads or the device. So a mask is not drawn from one generator that every
/// dropout call advances (its state would depend on the order of the calls, and a GPU could not
/// compute it in parallel). Instead each element has its own generator: element i of the dropout
/// site with key k is kept when
///
///   Rng(k + i).uniform() >= p
///
/// gpt2::Rng seeds itself with one step of SplitMix64, a generator built exactly for seeds that
/// count up, so neighbouring elements get independent numbers. The key of a site,
/// dropout_key(seed, pass, site), mixes the run's seed, the number of the forward pass (which a
/// checkpoint's step count fixes) and the site's index inside the model. Any element of any mask
/// can be computed alone, in any order, on any device; the backward pass can even recompute the
/// mask instead of storing it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/rng.h"

namespace gpt2 {

/// The key of one dropout site: the run's `seed`, the number of the training forward pass
/// `pass` (0, 1, 2, ... over the run, micro-batches included) and the site's index in the model
/// (`site`: 0 for the embedding, dropout_site_index() for a block's). Each argument goes through one
/// round of SplitMix64 (Rng's seeding), so nearby values give unrelated keys.
inline uint64_t dropout_key(uint64_t seed, uint64_t pass, uint64_t site) {
  uint64_t key = Rng(seed).state();
  key = Rng(key ^ pass).state();
  return Rng(key ^ site).state();
}

/// The sites of a GPT-2, numbered in the order of the forward pass: 0 is the embedding's output,
/// then three per block: the attention weights, the attention branch's output, the MLP
/// branch's output.
enum class DropoutSite { attention_weights = 1, attention_output = 2, mlp_output = 3 };
inline uint64_t dropout_site_index(int layer, DropoutSite site) {
  return 3 * static_cast<uint64_t>(layer) + static_cast<uint64_t>(site);
}

/// The uniform number in [0, 1) that decides element i of the site with key `key`.
inline float dropout_uniform(uint64_t key, int64_t i) {
  Rng rng(key + static_cast<uint64_t>(i));
  return rng.uniform();
}

/// Whether element i of the site with key `key` survives dropout with probability p.
inline bool dropout_keep(uint64_t key, int64_t i, float p) {
  return dropout_uniform(key, i) >= p;
}

/// keep (n) = 1 where an element survives (probability 1 - p), 0 where it is dropped, for the
/// site with key `key`. p must be in [0, 1); with p = 0 every element is kept.
inline void dropout_mask(uint8_t* keep, int64_t n, float p, uint64_t key) {
  for (int64_t i = 0; i < n; ++i) keep[i] = dropout_keep(key, i, p) ? 1 : 0;
}

/// out (n) = keep (n) * inp (n) / (1 - p). out may be the same array as inp.
template <typename F>
void dropout_forward(F* out, const F* inp, const uint8_t* keep, int64_t n, F p) {
  const F scale = F(1) / (F(1) - p);
  for (int64_t i = 0; i < n; ++i) out[i] = keep[i] ? inp[i] * scale : F(0);
}

/// Accumulates dinp (n) += keep (n) * dout (n) / (1 - p), with the forward's mask and p.
template <typename F>
void dropout_backward(F* dinp, const F* dout, const uint8_t* keep, int64_t n, F p) {
  const F scale = F(1) / (F(1) - p);
  for (int64_t i = 0; i < n; ++i) {
    if (keep[i]) dinp[i] += dout[i] * scale;
  }
}

/// The same two with the mask drawn from `key` element by element, as the model's backends
/// compute them: no mask is stored, and the backward pass recomputes the forward's mask from the
/// same key. out may be the same array as inp (the model drops in place).
template <typename F>
void dropout_forward(F* out, const F* inp, int64_t n, F p, uint64_t key) {
  const F scale = F(1) / (F(1) - p);
  for (int64_t i = 0; i < n; ++i)
    out[i] = dropout_keep(key, i, static_cast<float>(p)) ? inp[i] * scale : F(0);
}

template <typename F>
void dropout_backward(F* dinp, const F* dout, int64_t n, F p, uint64_t key) {
  const F scale = F(1) / (F(1) - p);
  for (int64_t i = 0; i < n; ++i) {
    if (dropout_keep(key, i, static_cast<float>(p))) dinp[i] += dout[i] * scale;
  }
}

}  // namespace gpt2
