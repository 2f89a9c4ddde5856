/// @file activations.h
/// @brief The activation arena: every intermediate the backward pass needs, in one buffer sized
/// from (config, B, T), plus the memory report printed before anything is allocated.
///
/// The forward pass keeps, for each block, every tensor that the backward pass reads again
/// (llm.c's ActivationTensors): the LayerNorm outputs and their mean/rstd, q/k/v, the attention
/// weights, the MLP's hidden layer before and after the GELU, and the residual stream. The
/// backward pass then needs gradients of activations only for one block at a time, so those
/// live in a small scratch region reused by every block (BackwardScratch).
///
/// Sizes with BT = B T and the names of chapter 04's ops:
///
/// | per block | floats |  | top level | floats |
/// |---|---|---|---|---|
/// | ln1, ln2, atty, attproj, residual2, fcproj, residual3 | 7 BTC | | encoded, lnf | 2 BTC |
/// | ln1/ln2 mean and rstd | 4 BT | | lnf mean and rstd, losses, lse | 4 BT |
/// | qkv, qkvh | 6 BTC | | logits | BTV |
/// | att | B NH T^2 | | | |
/// | fch, fch_gelu | 8 BTC | | | |
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "chapters/05_gpt2_model/config.h"

namespace gpt2 {

/// What one block's forward pass keeps for its backward pass (pointers into the arena).
struct LayerActivations {
  float* ln1;        ///< (B, T, C)  ln_1 output
  float* ln1_mean;   ///< (B, T)
  float* ln1_rstd;   ///< (B, T)     1 / sqrt(var + eps)
  float* qkv;        ///< (B, T, 3C) c_attn output: q, k, v side by side
  float* qkvh;       ///< (3, B, NH, T, HS) q, k, v split into heads (chapter 04's scratch)
  float* att;        ///< (B, NH, T, T) softmax attention weights
  float* atty;       ///< (B, T, C)  attention output, heads merged (input of attn.c_proj)
  float* attproj;    ///< (B, T, C)  attn.c_proj output
  float* residual2;  ///< (B, T, C)  residual + attention
  float* ln2;        ///< (B, T, C)  ln_2 output
  float* ln2_mean;   ///< (B, T)
  float* ln2_rstd;   ///< (B, T)
  float* fch;        ///< (B, T, 4C) mlp.c_fc output (GELU input)
  float* fch_gelu;   ///< (B, T, 4C) GELU output (input of mlp.c_proj)
  float* fcproj;     ///< (B, T, C)  mlp.c_proj output
  float* residual3;  ///< (B, T, C)  residual2 + MLP: the block's output
};

/// The whole forward pass's arena.
struct Activations {
  float* encoded;  ///< (B, T, C) token + position embedding: the residual stream entering block 0
  std::vector<LayerActivations> blocks;  ///< L of them
  float* lnf;                            ///< (B, T, C) ln_f output
  float* lnf_mean;                       ///< (B, T)
  float* lnf_rstd;                       ///< (B, T)
  float* logits;                         ///< (B, T, V)
  float* losses;  ///< (B, T) cross-entropy per position (0 where the target is ignored)
  float* lse;     ///< (B, T) log-sum-exp of each row of logits (the softmax's normaliser)
};

/// Gradients of activations for the backward pass, reused by every block.
struct BackwardScratch {
  float* dlogits;    ///< (B, T, V)
  float* dlnf;       ///< (B, T, C)
  float* dres_a;     ///< (B, T, C) gradient of the residual stream, ping...
  float* dres_b;     ///< (B, T, C) ...pong: one holds d(block output), the other d(block input)
  float* dres2;      ///< (B, T, C) gradient of residual2
  float* dfcproj;    ///< (B, T, C)
  float* dfch_gelu;  ///< (B, T, 4C)
  float* dfch;       ///< (B, T, 4C)
  float* dln2;       ///< (B, T, C)
  float* dattproj;   ///< (B, T, C)
  float* datty;      ///< (B, T, C)
  float* dqkv;       ///< (B, T, 3C)
  float* dln1;       ///< (B, T, C)
};

/// Floats of the forward arena for (config, B, T).
int64_t activation_floats(const GPT2Config& config, int B, int T);
/// Floats of the backward scratch for (config, B, T).
int64_t backward_scratch_floats(const GPT2Config& config, int B, int T);
/// Cuts a buffer of activation_floats() floats into the named activations.
Activations bind_activations(float* base, const GPT2Config& config, int B, int T);
/// Cuts a buffer of backward_scratch_floats() floats into the named gradients.
BackwardScratch bind_backward_scratch(float* base, const GPT2Config& config, int B, int T);

/// Bytes a configuration needs, computed before anything is allocated.
struct MemoryReport {
  GPT2Config config;
  int B = 0, T = 0;
  int64_t parameters = 0;        ///< number of parameters
  int64_t parameter_bytes = 0;   ///< 4 per parameter (float)
  int64_t gradient_bytes = 0;    ///< the same again
  int64_t optimizer_bytes = 0;   ///< AdamW's two moments: twice the parameters
  int64_t activation_bytes = 0;  ///< the forward arena
  int64_t backward_bytes = 0;    ///< the backward scratch
  /// Inference: parameters + activations.
  int64_t inference_bytes() const { return parameter_bytes + activation_bytes; }
  /// Training: everything above.
  int64_t training_bytes() const {
    return parameter_bytes + gradient_bytes + optimizer_bytes + activation_bytes + backward_bytes;
  }
  /// A small table, one line per item, in MiB.
  std::string to_string() const;
};

/// The memory report for training (or running) `config` on batches of B sequences of T tokens.
MemoryReport memory_report(const GPT2Config& config, int B, int T);

}  // namespace gpt2
