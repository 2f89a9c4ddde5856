/// @file exercises/04_transformer_block/exercise.h
/// @brief Exercises 04: the backward passes of LayerNorm and GELU, splitting q, k, v into heads,
/// and the backward wiring of a whole block.
#pragma once

#include <cstddef>
#include <vector>

#include "chapters/04_transformer_block/block.h"

namespace exercise {

/// 04.1: the backward pass of LayerNorm over rows of C numbers. Given dout (N, C), the forward's
/// input inp (N, C), weight (C) and the saved row statistics mean (N) and rstd (N), ADD the
/// gradients into dinp (N, C), dweight (C) and dbias (C).
void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, int N, int C);

/// 04.2: the backward pass of GELU in its tanh form, element-wise over n numbers:
/// ADD GELU'(inp[i]) * dout[i] into dinp[i].
void gelu_backward(float* dinp, const float* inp, const float* dout, int n);

/// 04.3: split the c_attn output qkv (B, T, 3C), channels q | k | v, into heads:
/// qkvh (3, B, NH, T, HS) with qkvh[w, b, h, t, i] = qkv[b, t, w C + h HS + i], HS = C / NH.
void split_qkv_heads(float* qkvh, const float* qkv, int B, int T, int C, int NH);

/// What the forward pass of a *post-LN* block (04.4) keeps for its backward pass; N = B T rows.
/// The block is the arrangement of the original Transformer (and BERT): each sub-layer works on
/// the residual stream first and LayerNorm comes after the addition,
///   x1  = ln_1(x + attn_c_proj(mha(c_attn(x))))
///   out = ln_2(x1 + mlp_c_proj(gelu(c_fc(x1))))
/// with the same twelve parameters as GPT-2's pre-LN block (gpt2::BlockParams).
struct PostLnActivations {
  std::vector<double> qkv;                   ///< (N, 3C) c_attn(x)
  std::vector<double> qkvh;                  ///< (3, B, NH, T, HS) q, k, v in heads
  std::vector<double> att;                   ///< (B, NH, T, T) attention weights
  std::vector<double> atty;                  ///< (N, C) merged heads
  std::vector<double> attn_proj;             ///< (N, C) attn_c_proj(atty)
  std::vector<double> sum_1;                 ///< (N, C) x + attn_proj
  std::vector<double> x1;                    ///< (N, C) ln_1(sum_1)
  std::vector<double> ln_1_mean, ln_1_rstd;  ///< (N)
  std::vector<double> fch;                   ///< (N, 4C) c_fc(x1)
  std::vector<double> fch_gelu;              ///< (N, 4C) gelu(fch)
  std::vector<double> mlp_proj;              ///< (N, C) mlp_c_proj(fch_gelu)
  std::vector<double> sum_2;                 ///< (N, C) x1 + mlp_proj
  std::vector<double> out;                   ///< (N, C) ln_2(sum_2): the block's output
  std::vector<double> ln_2_mean, ln_2_rstd;  ///< (N)
};

/// The forward pass of the post-LN block on inp (B, T, C), written with the chapter's operations
/// (given, not a task: 04.4 is its backward pass).
inline PostLnActivations post_ln_block_forward(const double* inp, const gpt2::BlockParams<const double>& w,
                                               int B, int T, int C, int NH) {
  const int N = B * T;
  const size_t nc = static_cast<size_t>(N) * C;
  PostLnActivations a;
  a.qkv.resize(3 * nc);
  a.qkvh.resize(3 * nc);
  a.att.resize(static_cast<size_t>(B) * NH * T * T);
  a.atty.resize(nc);
  a.attn_proj.resize(nc);
  a.sum_1.resize(nc);
  a.x1.resize(nc);
  a.ln_1_mean.resize(N);
  a.ln_1_rstd.resize(N);
  a.fch.resize(4 * nc);
  a.fch_gelu.resize(4 * nc);
  a.mlp_proj.resize(nc);
  a.sum_2.resize(nc);
  a.out.resize(nc);
  a.ln_2_mean.resize(N);
  a.ln_2_rstd.resize(N);
  gpt2::linear_forward(a.qkv.data(), inp, w.c_attn_w, w.c_attn_b, N, C, 3 * C);
  gpt2::multihead_attention_forward(a.atty.data(), a.qkvh.data(), a.att.data(), a.qkv.data(), B, T, C, NH);
  gpt2::linear_forward(a.attn_proj.data(), a.atty.data(), w.attn_c_proj_w, w.attn_c_proj_b, N, C, C);
  gpt2::residual_forward(a.sum_1.data(), inp, a.attn_proj.data(), N * C);
  gpt2::layernorm_forward(a.x1.data(), a.ln_1_mean.data(), a.ln_1_rstd.data(), a.sum_1.data(), w.ln_1_w,
                          w.ln_1_b, N, C, gpt2::kGpt2LayerNormEps);
  gpt2::linear_forward(a.fch.data(), a.x1.data(), w.c_fc_w, w.c_fc_b, N, C, 4 * C);
  gpt2::gelu_forward(a.fch_gelu.data(), a.fch.data(), N * 4 * C);
  gpt2::linear_forward(a.mlp_proj.data(), a.fch_gelu.data(), w.mlp_c_proj_w, w.mlp_c_proj_b, N, 4 * C, C);
  gpt2::residual_forward(a.sum_2.data(), a.x1.data(), a.mlp_proj.data(), N * C);
  gpt2::layernorm_forward(a.out.data(), a.ln_2_mean.data(), a.ln_2_rstd.data(), a.sum_2.data(), w.ln_2_w,
                          w.ln_2_b, N, C, gpt2::kGpt2LayerNormEps);
  return a;
}

/// 04.4: the backward pass of the post-LN block, wired from the chapter's backward functions.
/// Given dout (B, T, C), the forward's input inp, its weights w and activations a, ADD dL/dinp into
/// dinp (B, T, C) and every parameter's gradient into g (the same layout as w).
void post_ln_block_backward(double* dinp, const gpt2::BlockParams<double>& g, const double* dout,
                            const double* inp, const gpt2::BlockParams<const double>& w,
                            const PostLnActivations& a, int B, int T, int C, int NH);

}  // namespace exercise
