/// @file activations.h
/// @brief The activation arena: every intermediate a forward pass writes, in one buffer sized from
/// (config, ActivationPlan), plus the memory report printed before anything is allocated.
///
/// A training forward pass keeps, for each block, every tensor that the backward pass reads again
/// (llm.c's ActivationTensors): the LayerNorm outputs and their mean/rstd, q/k/v, the attention
/// weights, the MLP's hidden layer before and after the GELU, and the residual stream. The
/// backward pass then needs gradients of activations only for one block at a time, so those live
/// in a small scratch region reused by every block (BackwardScratch).
///
/// A forward pass for inference keeps nothing for later: every block can write into the same
/// buffers, because block l + 1 only reads block l's output. So an inference arena holds one
/// block's buffers, and `blocks[l]` of all L layers point at them. With a KV cache the attention
/// reads its keys and values from the cache (kv_cache.h), and the (B, NH, T, T) weights and the
/// split heads are not needed either.
///
/// The names are chapter 04's (block.h's BlockActivations). Sizes with BT = B T:
///
/// | per block (L of them for training, 1 for inference) | floats |
/// |---|---|
/// | ln_1, atty, attn_proj, res_1, ln_2, mlp_proj, out | 7 BTC |
/// | ln_1 / ln_2 mean and rstd | 4 BT |
/// | qkv | 3 BTC |
/// | qkvh, att (attention without a cache) | 3 BTC + B NH T^2 |
/// | fch, fch_gelu | 8 BTC |
///
/// | top level | floats |
/// |---|---|
/// | encoded | BTC |
/// | final_rows (only when logits are asked for the last position only) | BC |
/// | lnf, lnf mean and rstd, logits, losses, lse | R (C + V + 4), R = the rows with logits |
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "chapters/05_gpt2_model/config.h"

namespace gpt2 {

/// What one block's forward pass writes (pointers into the arena). The shapes are (B, T, ...)
/// for the positions of this forward pass.
struct LayerActivations {
  float* ln_1;       ///< (B, T, C)  ln_1 output
  float* ln_1_mean;  ///< (B, T)
  float* ln_1_rstd;  ///< (B, T)     1 / sqrt(var + eps)
  float* qkv;        ///< (B, T, 3C) c_attn output: q, k, v side by side
  float* qkvh;       ///< (3, B, NH, T, HS) q, k, v split into heads (null with a KV cache)
  float* att;        ///< (B, NH, T, T) softmax attention weights (null with a KV cache)
  float* atty;       ///< (B, T, C)  attention output, heads merged (input of attn.c_proj)
  float* attn_proj;  ///< (B, T, C)  attn.c_proj output
  float* res_1;      ///< (B, T, C)  the block's input + attn_proj
  float* ln_2;       ///< (B, T, C)  ln_2 output
  float* ln_2_mean;  ///< (B, T)
  float* ln_2_rstd;  ///< (B, T)
  float* fch;        ///< (B, T, 4C) mlp.c_fc output (GELU input)
  float* fch_gelu;   ///< (B, T, 4C) GELU output (input of mlp.c_proj)
  float* mlp_proj;   ///< (B, T, C)  mlp.c_proj output
  float* out;        ///< (B, T, C)  res_1 + mlp_proj: the block's output, the next block's input
};

/// The whole forward pass's arena. The final LayerNorm, the logits and the losses have R rows:
/// every position (R = B T) or the last position of each sequence (R = B).
struct Activations {
  float* encoded;  ///< (B, T, C) token + position embedding: the residual stream entering block 0
  std::vector<LayerActivations> blocks;  ///< L of them (all the same buffers in an inference arena)
  float* final_rows;                     ///< (B, C) the last position of each sequence (null if R = B T)
  float* lnf;                            ///< (R, C) ln_f output
  float* lnf_mean;                       ///< (R)
  float* lnf_rstd;                       ///< (R)
  float* logits;                         ///< (R, V) (null when the plan has no logits)
  float* losses;                         ///< (R) cross-entropy per position (0 where the target is ignored)
  float* lse;                            ///< (R) log-sum-exp of each row of logits (the softmax's normaliser)
};

/// Gradients of activations for the backward pass, reused by every block (chapter 04's names
/// with a d in front).
struct BackwardScratch {
  float* dlogits;     ///< (B, T, V)
  float* dlnf;        ///< (B, T, C)
  float* dres_a;      ///< (B, T, C) gradient of the residual stream, ping...
  float* dres_b;      ///< (B, T, C) ...pong: one holds d(block output), the other d(block input)
  float* dres_1;      ///< (B, T, C) gradient of res_1
  float* dmlp_proj;   ///< (B, T, C)
  float* dfch_gelu;   ///< (B, T, 4C)
  float* dfch;        ///< (B, T, 4C)
  float* dln_2;       ///< (B, T, C)
  float* dattn_proj;  ///< (B, T, C)
  float* datty;       ///< (B, T, C)
  float* dqkv;        ///< (B, T, 3C)
  float* dln_1;       ///< (B, T, C)
  float* ddropout;    ///< (B, T, C) the gradient before a dropout (null when the model has no dropout)
  float* dfrozen;     ///< (2C) where a frozen LayerNorm's parameter gradients go (and are never read)
};

/// How a forward pass of B sequences of T new positions uses the arena.
struct ActivationPlan {
  int B = 0, T = 0;
  /// Every block keeps its own activations (training; looking inside the model), or one set of
  /// buffers serves every block (inference).
  bool every_block = true;
  /// The attention runs over a KV cache: no split heads, no (B, NH, T, T) weights in the arena.
  bool kv_cache = false;
  /// Logits (and ln_f, losses) for every position, or only for the last one of each sequence.
  bool all_logits = true;
  /// The language-model head runs (false: the pass stops at ln_f, and the arena has no logits).
  bool logits = true;

  /// The rows that get logits: B T or B.
  int64_t logit_rows() const { return all_logits ? int64_t{B} * T : B; }

  /// A training pass: everything kept, no cache, every position's logits.
  static ActivationPlan training(int B, int T) { return {B, T, true, false, true}; }
  /// Generation with a KV cache: one block's buffers, the last position's logits.
  static ActivationPlan generation(int B, int T) { return {B, T, false, true, false}; }
};

/// Floats of the forward arena for `plan` (throws gpt2::Error for B <= 0 or T outside
/// [1, n_positions]).
int64_t activation_floats(const GPT2Config& config, const ActivationPlan& plan);
/// Floats of the backward scratch for (config, B, T).
int64_t backward_scratch_floats(const GPT2Config& config, int B, int T);
/// Cuts a buffer of at least activation_floats() floats into the named activations.
Activations bind_activations(float* base, const GPT2Config& config, const ActivationPlan& plan);
/// Cuts a buffer of at least backward_scratch_floats() floats into the named gradients.
BackwardScratch bind_backward_scratch(float* base, const GPT2Config& config, int B, int T);

/// Bytes a configuration needs, computed before anything is allocated, for training on batches
/// of B sequences of T tokens and for generating B sequences of up to T tokens with a KV cache.
struct MemoryReport {
  GPT2Config config;
  int B = 0, T = 0;
  int64_t parameters = 0;                  ///< number of parameters
  int64_t parameter_bytes = 0;             ///< 4 per parameter (float)
  int64_t gradient_bytes = 0;              ///< the same again (training only)
  int64_t optimizer_bytes = 0;             ///< AdamW's two moments: twice the parameters (training only)
  int64_t activation_bytes = 0;            ///< the training arena: every block's activations
  int64_t backward_bytes = 0;              ///< the backward scratch (training only)
  int64_t kv_cache_bytes = 0;              ///< the KV cache of B T positions (generation only)
  int64_t inference_activation_bytes = 0;  ///< the generation arena: one block, a prefill of T tokens
  /// Generation: parameters + KV cache + one block's activations. No gradients, no optimizer.
  int64_t inference_bytes() const { return parameter_bytes + kv_cache_bytes + inference_activation_bytes; }
  /// Training: parameters, gradients, AdamW, every block's activations and the backward scratch.
  int64_t training_bytes() const {
    return parameter_bytes + gradient_bytes + optimizer_bytes + activation_bytes + backward_bytes;
  }
  /// A small table, one line per item, training and generation side by side, in MiB.
  std::string to_string() const;
};

/// The memory report for `config` with B sequences of T tokens (see MemoryReport).
MemoryReport memory_report(const GPT2Config& config, int B, int T);

}  // namespace gpt2
