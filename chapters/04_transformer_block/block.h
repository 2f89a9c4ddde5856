/// @file block.h
/// @brief One GPT-2 transformer block (pre-LN), forward and backward, built from the ops of
/// chapters 03 and 04.
///
/// GPT-2 normalises *before* each sub-layer and adds the sub-layer's output to the residual
/// stream ("pre-LN"):
///
///   x1  = x  + attn_c_proj( mha( c_attn( ln_1(x) ) ) )      attention: positions talk
///   out = x1 + mlp_c_proj( gelu( c_fc( ln_2(x1) ) ) )       MLP: each position thinks alone
///
/// with the MLP widening C -> 4C -> C. The backward runs the same steps in reverse order,
/// each op's backward adding into the gradient of its inputs; the residual additions hand dout
/// to both branches, so dx receives the gradient straight through plus what comes back through
/// ln_1.
///
/// PyTorch: transformers' GPT2Block (with dropout off), or nanoGPT's Block:
/// `x = x + self.attn(self.ln_1(x)); x = x + self.mlp(self.ln_2(x))`.
///
/// This file is the readable template. Chapter 05's GPT2 runs the same sequence of ops for each
/// of its L blocks, as calls on a Backend (so that chapter 08's and chapter 09's kernels can
/// replace the plain loops), on views of its own parameter and activation buffers that carry the
/// names of BlockActivations below.
#pragma once

#include <cstddef>
#include <vector>

#include "chapters/04_transformer_block/gelu.h"
#include "chapters/04_transformer_block/layernorm.h"
#include "chapters/04_transformer_block/linear.h"
#include "chapters/04_transformer_block/multihead_attention.h"
#include "chapters/04_transformer_block/residual.h"

namespace gpt2 {

/// Pointers to a block's parameters (or to their gradients, same layout), with the Hugging Face
/// names of layer i. Use `BlockParams<const float>` for weights, `BlockParams<float>` for gradients.
template <typename F>
struct BlockParams {
  F* ln_1_w;         ///< (C)       h.{i}.ln_1.weight
  F* ln_1_b;         ///< (C)       h.{i}.ln_1.bias
  F* c_attn_w;       ///< (C, 3C)   h.{i}.attn.c_attn.weight (Conv1D: x @ W), output channels q | k | v
  F* c_attn_b;       ///< (3C)      h.{i}.attn.c_attn.bias
  F* attn_c_proj_w;  ///< (C, C)    h.{i}.attn.c_proj.weight
  F* attn_c_proj_b;  ///< (C)       h.{i}.attn.c_proj.bias
  F* ln_2_w;         ///< (C)       h.{i}.ln_2.weight
  F* ln_2_b;         ///< (C)       h.{i}.ln_2.bias
  F* c_fc_w;         ///< (C, 4C)   h.{i}.mlp.c_fc.weight
  F* c_fc_b;         ///< (4C)      h.{i}.mlp.c_fc.bias
  F* mlp_c_proj_w;   ///< (4C, C)   h.{i}.mlp.c_proj.weight
  F* mlp_c_proj_b;   ///< (C)       h.{i}.mlp.c_proj.bias
};

/// The Hugging Face names of the block's parameters (after the `h.{i}.` prefix), in the order of
/// BlockParams' fields and of block_params_view's flat layout.
inline constexpr const char* kBlockParamNames[12] = {
    "ln_1.weight",        "ln_1.bias",        "attn.c_attn.weight", "attn.c_attn.bias",
    "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight",        "ln_2.bias",
    "mlp.c_fc.weight",    "mlp.c_fc.bias",    "mlp.c_proj.weight",  "mlp.c_proj.bias"};

/// Number of parameters in one block: 12 C^2 + 13 C (C = 768: 7,087,872).
inline size_t block_num_params(int C) {
  const size_t c = static_cast<size_t>(C);
  return 12 * c * c + 13 * c;
}

/// Cuts one flat array of block_num_params(C) numbers into the block's parameters, in the order
/// of BlockParams' fields (the order of the Hugging Face state dict). F may be const.
template <typename F>
BlockParams<F> block_params_view(F* flat, int C) {
  const size_t c = static_cast<size_t>(C);
  BlockParams<F> p;
  F* at = flat;
  auto take = [&at](size_t count) {
    F* start = at;
    at += count;
    return start;
  };
  p.ln_1_w = take(c);
  p.ln_1_b = take(c);
  p.c_attn_w = take(c * 3 * c);
  p.c_attn_b = take(3 * c);
  p.attn_c_proj_w = take(c * c);
  p.attn_c_proj_b = take(c);
  p.ln_2_w = take(c);
  p.ln_2_b = take(c);
  p.c_fc_w = take(c * 4 * c);
  p.c_fc_b = take(4 * c);
  p.mlp_c_proj_w = take(4 * c * c);
  p.mlp_c_proj_b = take(c);
  return p;
}

/// Everything block_forward computes, kept for block_backward (N = B T rows).
template <typename F>
struct BlockActivations {
  std::vector<F> ln_1;       ///< (B, T, C)  ln_1(x)
  std::vector<F> ln_1_mean;  ///< (B, T)
  std::vector<F> ln_1_rstd;  ///< (B, T)
  std::vector<F> qkv;        ///< (B, T, 3C) c_attn(ln_1)
  std::vector<F> qkvh;       ///< (3, B, NH, T, HS) q, k, v split into heads
  std::vector<F> att;        ///< (B, NH, T, T) attention weights
  std::vector<F> atty;       ///< (B, T, C)  merged heads, input of attn.c_proj
  std::vector<F> attn_proj;  ///< (B, T, C)  attn.c_proj(atty)
  std::vector<F> res_1;      ///< (B, T, C)  x + attn_proj
  std::vector<F> ln_2;       ///< (B, T, C)  ln_2(res_1)
  std::vector<F> ln_2_mean;  ///< (B, T)
  std::vector<F> ln_2_rstd;  ///< (B, T)
  std::vector<F> fch;        ///< (B, T, 4C) c_fc(ln_2)
  std::vector<F> fch_gelu;   ///< (B, T, 4C) gelu(fch)
  std::vector<F> mlp_proj;   ///< (B, T, C)  mlp.c_proj(fch_gelu)
  std::vector<F> out;        ///< (B, T, C)  res_1 + mlp_proj: the block's output

  BlockActivations(int B, int T, int C, int NH) {
    const size_t N = static_cast<size_t>(B) * T, c = static_cast<size_t>(C);
    ln_1.resize(N * c);
    ln_1_mean.resize(N);
    ln_1_rstd.resize(N);
    qkv.resize(N * 3 * c);
    qkvh.resize(3 * N * c);
    att.resize(static_cast<size_t>(B) * NH * T * T);
    atty.resize(N * c);
    attn_proj.resize(N * c);
    res_1.resize(N * c);
    ln_2.resize(N * c);
    ln_2_mean.resize(N);
    ln_2_rstd.resize(N);
    fch.resize(N * 4 * c);
    fch_gelu.resize(N * 4 * c);
    mlp_proj.resize(N * c);
    out.resize(N * c);
  }
};

/// The block's forward pass on inp (B, T, C); the output is acts.out (B, T, C). C must be a
/// multiple of NH; eps is LayerNorm's epsilon (GPT-2: 1e-5).
template <typename F>
void block_forward(BlockActivations<F>& a, const F* inp, const BlockParams<const F>& w, int B, int T, int C,
                   int NH, F eps = F(kGpt2LayerNormEps)) {
  const int N = B * T;
  // Attention sub-layer: x1 = x + attn_c_proj(mha(c_attn(ln_1(x))))
  layernorm_forward(a.ln_1.data(), a.ln_1_mean.data(), a.ln_1_rstd.data(), inp, w.ln_1_w, w.ln_1_b, N, C,
                    eps);
  linear_forward(a.qkv.data(), a.ln_1.data(), w.c_attn_w, w.c_attn_b, N, C, 3 * C);
  multihead_attention_forward(a.atty.data(), a.qkvh.data(), a.att.data(), a.qkv.data(), B, T, C, NH);
  linear_forward(a.attn_proj.data(), a.atty.data(), w.attn_c_proj_w, w.attn_c_proj_b, N, C, C);
  residual_forward(a.res_1.data(), inp, a.attn_proj.data(), N * C);
  // MLP sub-layer: out = x1 + mlp_c_proj(gelu(c_fc(ln_2(x1))))
  layernorm_forward(a.ln_2.data(), a.ln_2_mean.data(), a.ln_2_rstd.data(), a.res_1.data(), w.ln_2_w, w.ln_2_b,
                    N, C, eps);
  linear_forward(a.fch.data(), a.ln_2.data(), w.c_fc_w, w.c_fc_b, N, C, 4 * C);
  gelu_forward(a.fch_gelu.data(), a.fch.data(), N * 4 * C);
  linear_forward(a.mlp_proj.data(), a.fch_gelu.data(), w.mlp_c_proj_w, w.mlp_c_proj_b, N, 4 * C, C);
  residual_forward(a.out.data(), a.res_1.data(), a.mlp_proj.data(), N * C);
}

/// Accumulates the block's gradients: dinp (B, T, C) and every parameter gradient in g (same
/// layout as the weights), given dout (B, T, C), the forward's input inp, its weights w and its
/// activations a. Scratch for the intermediate gradients is allocated inside.
template <typename F>
void block_backward(F* dinp, const BlockParams<F>& g, const F* dout, const F* inp,
                    const BlockParams<const F>& w, const BlockActivations<F>& a, int B, int T, int C,
                    int NH) {
  const int N = B * T;
  const size_t nc = static_cast<size_t>(N) * C;
  // Gradient buffers for the intermediate activations, zeroed because every backward adds.
  std::vector<F> dres_1(nc, F(0)), dmlp_proj(nc, F(0)), dfch_gelu(4 * nc, F(0)), dfch(4 * nc, F(0));
  std::vector<F> dln_2(nc, F(0)), dattn_proj(nc, F(0)), datty(nc, F(0)), dqkv(3 * nc, F(0)), dln_1(nc, F(0));

  // MLP sub-layer, last op first.
  residual_backward(dres_1.data(), dmlp_proj.data(), dout, N * C);
  linear_backward(dfch_gelu.data(), g.mlp_c_proj_w, g.mlp_c_proj_b, dmlp_proj.data(), a.fch_gelu.data(),
                  w.mlp_c_proj_w, N, 4 * C, C);
  gelu_backward(dfch.data(), a.fch.data(), dfch_gelu.data(), N * 4 * C);
  linear_backward(dln_2.data(), g.c_fc_w, g.c_fc_b, dfch.data(), a.ln_2.data(), w.c_fc_w, N, C, 4 * C);
  layernorm_backward(dres_1.data(), g.ln_2_w, g.ln_2_b, dln_2.data(), a.res_1.data(), w.ln_2_w,
                     a.ln_2_mean.data(), a.ln_2_rstd.data(), N, C);
  // Attention sub-layer.
  residual_backward(dinp, dattn_proj.data(), dres_1.data(), N * C);
  linear_backward(datty.data(), g.attn_c_proj_w, g.attn_c_proj_b, dattn_proj.data(), a.atty.data(),
                  w.attn_c_proj_w, N, C, C);
  multihead_attention_backward(dqkv.data(), datty.data(), a.qkvh.data(), a.att.data(), B, T, C, NH);
  linear_backward(dln_1.data(), g.c_attn_w, g.c_attn_b, dqkv.data(), a.ln_1.data(), w.c_attn_w, N, C, 3 * C);
  layernorm_backward(dinp, g.ln_1_w, g.ln_1_b, dln_1.data(), inp, w.ln_1_w, a.ln_1_mean.data(),
                     a.ln_1_rstd.data(), N, C);
}

}  // namespace gpt2
