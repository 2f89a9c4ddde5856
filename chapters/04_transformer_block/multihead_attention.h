/// @file multihead_attention.h
/// @brief Multi-head causal self-attention between GPT-2's two attention projections.
///
/// In a GPT-2 block the attention sub-layer is
///
///   qkv = c_attn(x)                      (B, T, 3C)  one linear layer makes q, k and v at once
///   q, k, v = split(qkv), into NH heads  (B, NH, T, HS) each, HS = C / NH
///   y_h = attention(q_h, k_h, v_h)       (B, NH, T, HS) chapter 03, causal, per head
///   y = merge heads                      (B, T, C)  the heads side by side again
///   out = c_proj(y)                      (B, T, C)
///
/// This file is the middle three lines; the two projections are linear.h. Splitting is only a
/// change of memory layout: channel c = h HS + i of the q part of qkv[b, t] is element
/// (b, h, t, i) of q. In GPT-2's order the 3C channels of qkv are [q | k | v], so
///
///   qkvh[w, b, h, t, i] = qkv[b, t, w C + h HS + i]      w = 0 (q), 1 (k), 2 (v)
///   y[b, t, h HS + i]   = y_h[b, h, t, i]
///
/// Each head attends with its own HS-dimensional q, k and v, so different heads can look at
/// different positions; they cost together what one C-dimensional head would.
///
/// The backward of a pure re-layout is the inverse re-layout of the gradient: the gradient of
/// the merge is a split of dout, the gradient of the split is a merge (added into dqkv).
///
/// PyTorch (nanoGPT's CausalSelfAttention, between c_attn and c_proj):
/// `q, k, v = qkv.split(C, dim=2); q = q.view(B, T, NH, HS).transpose(1, 2)` (same for k, v);
/// `y = F.scaled_dot_product_attention(q, k, v, is_causal=True)`;
/// `y = y.transpose(1, 2).contiguous().view(B, T, C)`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "chapters/03_attention/attention.h"

namespace gpt2 {

/// heads (parts, B, NH, T, HS) = x (B, T, parts * C) cut into NH heads: each of the `parts`
/// consecutive C-channel groups of x (q, k, v for parts = 3) becomes one (B, NH, T, HS) tensor.
/// PyTorch: `x.view(B, T, parts, NH, HS).permute(2, 0, 3, 1, 4)`.
template <typename F>
void split_heads(F* heads, const F* x, int parts, int B, int T, int C, int NH) {
  const int HS = C / NH;
  for (int w = 0; w < parts; ++w)
    for (int b = 0; b < B; ++b)
      for (int h = 0; h < NH; ++h)
        for (int t = 0; t < T; ++t) {
          const F* src =
              x + (static_cast<size_t>(b) * T + t) * parts * C + static_cast<size_t>(w) * C + h * HS;
          F* dst = heads + (((static_cast<size_t>(w) * B + b) * NH + h) * T + t) * HS;
          for (int i = 0; i < HS; ++i) dst[i] = src[i];
        }
}

/// The inverse of split_heads, adding: x (B, T, parts * C) += heads (parts, B, NH, T, HS) put
/// back side by side. (Adding rather than overwriting is what the backward pass needs; the
/// forward pass zeroes x first.)
/// PyTorch: `x += heads.permute(1, 3, 0, 2, 4).reshape(B, T, parts * C)`.
template <typename F>
void merge_heads_add(F* x, const F* heads, int parts, int B, int T, int C, int NH) {
  const int HS = C / NH;
  for (int w = 0; w < parts; ++w)
    for (int b = 0; b < B; ++b)
      for (int h = 0; h < NH; ++h)
        for (int t = 0; t < T; ++t) {
          F* dst = x + (static_cast<size_t>(b) * T + t) * parts * C + static_cast<size_t>(w) * C + h * HS;
          const F* src = heads + (((static_cast<size_t>(w) * B + b) * NH + h) * T + t) * HS;
          for (int i = 0; i < HS; ++i) dst[i] += src[i];
        }
}

/// Causal multi-head self-attention, from the c_attn output to the input of c_proj.
///
/// - `out`  (B, T, C) the heads' outputs merged, before the output projection
/// - `qkvh` (3, B, NH, T, HS) scratch: q, k, v split into heads, saved for the backward pass
/// - `att`  (B, NH, T, T) the attention weights, saved for the backward pass
/// - `qkv`  (B, T, 3C) the output of the c_attn linear layer, channels in GPT-2's order q | k | v
///
/// C must be a multiple of NH. One (B, NH, T, HS) buffer for the heads' outputs is allocated inside.
/// With `keep` (B, NH, T, T) and `drop_p`, dropout acts on the attention weights (chapter 03's
/// attention_forward; the model's training mode uses it, chapter 10 explains it).
template <typename F>
void multihead_attention_forward(F* out, F* qkvh, F* att, const F* qkv, int B, int T, int C, int NH,
                                 const uint8_t* keep = nullptr, F drop_p = F(0)) {
  const int HS = C / NH;
  const size_t n = static_cast<size_t>(B) * NH * T * HS;  // = B T C, one of q, k, v
  split_heads(qkvh, qkv, 3, B, T, C, NH);
  std::vector<F> y(n);  // (B, NH, T, HS)
  attention_forward(y.data(), att, qkvh, qkvh + n, qkvh + 2 * n, B, NH, T, HS, /*causal=*/true, keep, drop_p);
  for (size_t i = 0; i < n; ++i) out[i] = 0;
  merge_heads_add(out, y.data(), 1, B, T, C, NH);
}

/// Accumulates dqkv (B, T, 3C) += the gradient of multihead_attention_forward, given
/// dout (B, T, C) and what the forward saved: qkvh (3, B, NH, T, HS) and att (B, NH, T, T)
/// (and the forward's dropout mask and probability, if it had one).
/// Scratch for the split dout and for dq, dk, dv (4 B T C numbers) is allocated inside.
template <typename F>
void multihead_attention_backward(F* dqkv, const F* dout, const F* qkvh, const F* att, int B, int T, int C,
                                  int NH, const uint8_t* keep = nullptr, F drop_p = F(0)) {
  const int HS = C / NH;
  const size_t n = static_cast<size_t>(B) * NH * T * HS;
  std::vector<F> dy(n);               // dout split into heads (B, NH, T, HS): the backward of the merge
  std::vector<F> dqkvh(3 * n, F(0));  // (3, B, NH, T, HS), zeroed: attention_backward adds
  split_heads(dy.data(), dout, 1, B, T, C, NH);
  attention_backward(dqkvh.data(), dqkvh.data() + n, dqkvh.data() + 2 * n, dy.data(), qkvh, qkvh + n,
                     qkvh + 2 * n, att, B, NH, T, HS, /*causal=*/true, keep, drop_p);
  merge_heads_add(dqkv, dqkvh.data(), 3, B, T, C, NH);  // the backward of the split
}

}  // namespace gpt2
