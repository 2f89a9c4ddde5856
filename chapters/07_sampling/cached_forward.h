/// @file cached_forward.h
/// @brief GPT-2's forward pass for generation: feed new tokens only, keep every layer's keys and
/// values in a KVCache.
///
/// The same model as chapter 05's forward, computed for the n new positions p0 .. p0 + n - 1
/// only (p0 = the positions already cached), with the ops of the earlier chapters:
///
///   x = wte[tokens] + wpe[p0 : p0 + n]                        chapter 02, encoder_forward
///   for each layer l:
///     qkv = c_attn(ln_1(x))                                   chapter 04, layernorm / linear
///     cache[l].K[p0 + i], cache[l].V[p0 + i] = k_i, v_i       append the new keys and values
///     y_i = attention(q_i, K[0 .. p0 + i], V[0 .. p0 + i])    per head, kv_cache.h
///     x = x + c_proj(y)                                       chapter 04, residual
///     x = x + mlp.c_proj(gelu(mlp.c_fc(ln_2(x))))             chapter 04
///   logits = ln_f(x) @ wte^T                                  the tied head
///
/// Prefill and decode are the same function: the prompt is one call with n = its length (its
/// matrix products are real matrix-matrix products, the fast kind), each generated token one call
/// with n = 1 (matrix-vector products: every weight read once per token).
///
/// A one-token step (n = 1) multiplies every weight matrix by one vector: it uses this chapter's
/// matrix-vector kernels (matvec.h), which stream the weights at memory speed, unless
/// set_matvec(false) asks for the backend's products (the prefill always uses the backend).
///
/// Every other operation is a call on the model's Backend (chapter 05's backend.h): CpuBackend's plain
/// loops of chapters 02-05, or chapter 08's fast kernels when the model runs on them. Only the
/// attention against the cache is new (kv_cache.h). The backend must compute in host memory (the
/// cache and the attention loop live there); for a device backend we fall back to a CpuBackend.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "chapters/05_gpt2_model/backend.h"
#include "chapters/05_gpt2_model/config.h"
#include "chapters/05_gpt2_model/gpt2.h"
#include "chapters/05_gpt2_model/parameters.h"
#include "chapters/07_sampling/kv_cache.h"

namespace gpt2 {

/// A GPT-2 (its weights, not owned) with a KV cache for one sequence.
/// @code
///   auto model = gpt2::GPT2::load("models/gpt2", backend);
///   gpt2::CachedGPT2 cached(model);
///   auto logits = cached.forward(prompt_ids);         // prefill: V logits of the last position
///   logits = cached.forward(std::vector<int>{next});  // one new token: reads the cache
/// @endcode
class CachedGPT2 {
 public:
  /// Uses `model`'s parameters (its host copy, params()) and backend; the model must outlive this
  /// object. The cache holds max_T positions (0: the model's context, n_positions; never more).
  /// The cached keys and values belong to the weights of the moment: reset() after training
  /// steps (generate() always starts with reset()).
  explicit CachedGPT2(const GPT2& model, int max_T = 0);
  /// The same for a bare parameter buffer laid out as ParameterLayout(config) (on the host) and a
  /// host-memory backend; both must outlive this object.
  CachedGPT2(const GPT2Config& config, const float* params, Backend& backend, int max_T = 0);

  /// Runs `tokens` at positions size() .. size() + n - 1, appending their keys and values to the
  /// cache. Returns the logits of the last new position (V floats), or with `all_logits` those of
  /// every new position (n, V). The span stays valid until the next call.
  /// Throws gpt2::Error if tokens is empty, an id is outside [0, V), or the cache would overflow.
  std::span<const float> forward(std::span<const int> tokens, bool all_logits = false);

  /// Whether one-token steps use matvec.h's kernels (the default) or the backend's linear and
  /// lm_head. Both compute the same function; the tests check both.
  void set_matvec(bool on) { use_matvec_ = on; }
  bool matvec() const { return use_matvec_; }

  /// Positions in the cache.
  int size() const { return cache_.size(); }
  /// Positions the cache can hold.
  int capacity() const { return cache_.capacity(); }
  /// Empties the cache: the next forward() starts at position 0.
  void reset() { cache_.clear(); }

  const GPT2Config& config() const { return config_; }
  const KVCache& cache() const { return cache_; }

 private:
  // out (n, OC) = inp (n, C) @ weight (C, OC) + bias: matvec for one row, else the backend.
  void linear(float* out, const float* inp, const float* weight, const float* bias, int n, int C, int OC);

  GPT2Config config_;
  ModelParams<const float> w_;            // views into the caller's parameter buffer
  std::unique_ptr<CpuBackend> fallback_;  // used when the model's backend computes on a device
  Backend* backend_;
  KVCache cache_;
  bool use_matvec_ = true;
  // Scratch for n rows, grown on demand: the residual stream, LayerNorm output and statistics,
  // qkv, attention output, projection output, MLP hidden layer, attention scores, logits.
  std::vector<float> x_, ln_, mean_, rstd_, qkv_, atty_, proj_, fch_, scores_, logits_;
};

}  // namespace gpt2
