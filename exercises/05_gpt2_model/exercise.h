/// @file exercises/05_gpt2_model/exercise.h
/// @brief Exercises 05: the loss gradient, counting GPT-2's parameters, the tied embedding, and the
/// backward pass of the whole model.
#pragma once

#include <cstdint>
#include <vector>

#include "chapters/02_embeddings/embedding.h"
#include "chapters/04_transformer_block/block.h"
#include "chapters/04_transformer_block/layernorm.h"
#include "chapters/05_gpt2_model/cross_entropy.h"
#include "chapters/05_gpt2_model/lm_head.h"
#include "common/error.h"

namespace exercise {

/// 05.1: the gradient of the cross-entropy of ONE row of logits (V numbers) with a target in
/// [0, V), times dloss, ADDED into dlogits (V). The maths: chapter 05, "Softmax and cross-entropy,
/// fused". Must not overflow for logits near 1000.
void cross_entropy_backward_row(float* dlogits, const float* logits, int target, float dloss, int V);

/// 05.2: the number of parameters of a GPT-2 with L = n_layer blocks, C = n_embd channels,
/// maxT = n_positions positions and V = vocab_size tokens (GPT-2 124M: 124,439,808).
int64_t count_parameters(int n_layer, int n_embd, int n_positions, int vocab_size);

/// 05.3: the gradient of the tied token embedding wte (V, C), ADDED into dwte: the head's part
/// from dlogits (BT, V) and the final LayerNorm's output lnf (BT, C), plus the embedding's part
/// from dx0 (BT, C), the gradient of the embedding output, at the rows of tokens (BT).
void tied_embedding_backward(float* dwte, const float* dlogits, const float* lnf, const float* dx0,
                             const int* tokens, int BT, int C, int V);

// ---------------------------------------------------------------------------------------------
// 05.4: the backward pass of the whole model. The forward is given below; write its backward.

/// The shape of a small GPT-2.
struct TinyConfig {
  int L = 0;     ///< blocks (n_layer)
  int NH = 0;    ///< heads (n_head)
  int C = 0;     ///< channels (n_embd), a multiple of NH
  int V = 0;     ///< vocabulary (vocab_size)
  int maxT = 0;  ///< positions (n_positions)
};

/// A GPT-2's parameters as named pointers, one array per tensor. `Weights<const float>` holds the
/// weights, `Weights<float>` their gradients (same shapes).
template <typename F>
struct Weights {
  F* wte = nullptr;                          ///< (V, C)     wte.weight, also the output head
  F* wpe = nullptr;                          ///< (maxT, C)  wpe.weight
  std::vector<gpt2::BlockParams<F>> blocks;  ///< L blocks in chapter 04's layout (h.{l}.*)
  F* lnf_w = nullptr;                        ///< (C)        ln_f.weight
  F* lnf_b = nullptr;                        ///< (C)        ln_f.bias
};

/// Everything model_forward computes and keeps for the backward pass (N = B T rows).
struct ForwardState {
  int B = 0, T = 0;
  std::vector<int> tokens;                            ///< (B, T) inputs
  std::vector<int> targets;                           ///< (B, T) next tokens, -1 = no target
  std::vector<float> x0;                              ///< (B, T, C) embedding output, block 0's input
  std::vector<gpt2::BlockActivations<float>> blocks;  ///< block l's activations; .out is block l+1's input
  std::vector<float> lnf, lnf_mean, lnf_rstd;         ///< (B, T, C), (B, T), (B, T): the final LayerNorm
  std::vector<float> logits;                          ///< (B, T, V)
  std::vector<float> losses, lse;  ///< (B, T) per-position loss (0 where no target), log-sum-exp
  int n_targets = 0;               ///< positions with a target
  float loss = 0;                  ///< mean of losses over those positions
};

/// The forward pass of GPT-2 (given): embedding, L pre-LN blocks, final LayerNorm, tied head,
/// cross-entropy averaged over the positions that have a target. Chapter 05's model computes the
/// same through its backend; here it is written out with the chapters' plain ops.
inline ForwardState model_forward(const Weights<const float>& w, const TinyConfig& cfg,
                                  const std::vector<int>& tokens, const std::vector<int>& targets, int B,
                                  int T) {
  GPT2_CHECK(T <= cfg.maxT && tokens.size() == static_cast<size_t>(B) * T && targets.size() == tokens.size(),
             "model_forward: tokens and targets must be (B, T) with T <= maxT");
  const int N = B * T, C = cfg.C, V = cfg.V;
  const size_t nc = static_cast<size_t>(N) * C;
  ForwardState s;
  s.B = B;
  s.T = T;
  s.tokens = tokens;
  s.targets = targets;
  s.x0.resize(nc);
  gpt2::encoder_forward(s.x0.data(), tokens.data(), w.wte, w.wpe, B, T, C);
  const float* x = s.x0.data();  // the residual stream entering the next block
  s.blocks.reserve(cfg.L);
  for (int l = 0; l < cfg.L; ++l) {
    s.blocks.emplace_back(B, T, C, cfg.NH);
    gpt2::block_forward(s.blocks[l], x, w.blocks[l], B, T, C, cfg.NH);
    x = s.blocks[l].out.data();
  }
  s.lnf.resize(nc);
  s.lnf_mean.resize(N);
  s.lnf_rstd.resize(N);
  gpt2::layernorm_forward(s.lnf.data(), s.lnf_mean.data(), s.lnf_rstd.data(), x, w.lnf_w, w.lnf_b, N, C,
                          static_cast<float>(gpt2::kGpt2LayerNormEps));
  s.logits.resize(static_cast<size_t>(N) * V);
  gpt2::lm_head_forward(s.logits.data(), s.lnf.data(), w.wte, N, C, V);
  s.losses.resize(N);
  s.lse.resize(N);
  gpt2::cross_entropy_forward(s.losses.data(), s.lse.data(), s.logits.data(), targets.data(), N, V);
  double sum = 0;
  for (int i = 0; i < N; ++i) {
    if (targets[i] >= 0) {
      sum += s.losses[i];
      ++s.n_targets;
    }
  }
  GPT2_CHECK(s.n_targets > 0, "model_forward: no position has a target");
  s.loss = static_cast<float>(sum / s.n_targets);
  return s;
}

/// 05.4: the backward pass of model_forward. ADDS d loss / d parameter into every gradient of
/// `grads` (same shapes as the weights), given the weights `w` and the forward's state `s`.
/// `s` is not changed. The maths and the order: chapter 05, "The backward pass".
void model_backward(const Weights<float>& grads, const Weights<const float>& w, const ForwardState& s,
                    const TinyConfig& cfg);

}  // namespace exercise
