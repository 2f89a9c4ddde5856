/// @file attention.h
/// @brief Scaled dot-product attention, with an optional causal mask, forward and backward.
///
/// Shapes: B batches, NH heads, T positions, HS numbers per head. For one (b, h) pair, Q, K, V
/// are T x HS matrices (one row per position) and
///
///   S = Q K^T / sqrt(HS)          (T, T) scores: how well query t matches key s
///   P = softmax(S + M)            (T, T) each row sums to 1 (the attention weights, `att`)
///   O = P V                       (T, HS) each output row is a weighted mean of the value rows
///
/// The causal mask M has M[t, s] = 0 for s <= t and -infinity for s > t, so position t attends
/// only to itself and the past: P[t, s] = 0 exactly for s > t. We do not add -infinity; we run the
/// softmax over the first t + 1 scores of the row and write zeros after them, which is the same
/// thing without the infinities.
///
/// Why 1/sqrt(HS): if the entries of q and k are independent with mean 0 and variance 1, then
/// q . k is a sum of HS such products and has variance HS. Dividing by sqrt(HS) brings the scores
/// back to variance 1 whatever the head size, so the softmax does not saturate into a one-hot
/// row (where its gradient vanishes) as heads get wider.
///
/// Backward, with dO = dL/dO (per (b, h)):
///
///   dV  = P^T dO                       dP = dO V^T
///   dS  = softmax_backward(dP, P)      (row-wise: dS_ts = P_ts (dP_ts - sum_s' P_ts' dP_ts'))
///   dQ  = dS K / sqrt(HS)              dK = dS^T Q / sqrt(HS)
///
/// Masked entries have P = 0, hence dS = 0: they pass no gradient, and the loops skip them.
///
/// **Dropout on the weights** (optional; GPT-2 trains with it, chapter 10 explains dropout): with a
/// mask `keep` (B, NH, T, T) of 0s and 1s and a probability p, the output uses the weights
/// D = keep * P / (1 - p) instead of P, O = D V, while `att` still stores P. The backward pass then
/// has dV = D^T dO and dP = keep * (dO V^T) / (1 - p) before the softmax's backward. Without a
/// mask (keep = nullptr) nothing changes.
///
/// PyTorch: torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal), or
/// written out: `att = (q @ k.transpose(-2, -1)) / math.sqrt(HS); att = att.masked_fill(mask ==
/// 0, -inf); att = att.softmax(-1); out = att @ v` (Karpathy's nanoGPT).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "chapters/03_attention/softmax.h"

namespace gpt2 {

/// Forward pass of attention for every (batch, head).
///
/// - `out`  (B, NH, T, HS) the attention output P V
/// - `att`  (B, NH, T, T) the attention weights P, saved for the backward pass; with `causal`
///   the entries above the diagonal are written as 0
/// - `q,k,v` (B, NH, T, HS) queries, keys and values
/// - `causal` apply the causal mask (GPT-2 always does)
/// - `keep`, `drop_p` dropout on the weights (see the file comment); none when keep is null
template <typename F>
void attention_forward(F* out, F* att, const F* q, const F* k, const F* v, int B, int NH, int T, int HS,
                       bool causal, const uint8_t* keep = nullptr, F drop_p = F(0)) {
  const F scale = F(1) / std::sqrt(static_cast<F>(HS));
  const F keep_scale = F(1) / (F(1) - drop_p);  // the survivors' factor 1 / (1 - p)
  for (int bh = 0; bh < B * NH; ++bh) {         // (b, h) pairs are independent: treat them as one index
    const size_t qkv_off = static_cast<size_t>(bh) * T * HS;
    const F* Q = q + qkv_off;
    const F* K = k + qkv_off;
    const F* V = v + qkv_off;
    F* O = out + qkv_off;
    F* P = att + static_cast<size_t>(bh) * T * T;
    for (int t = 0; t < T; ++t) {
      const F* qt = Q + static_cast<size_t>(t) * HS;
      F* pt = P + static_cast<size_t>(t) * T;
      const int n = causal ? t + 1 : T;  // how many keys position t may look at
      // 1) scores S[t, s] = q_t . k_s / sqrt(HS), for the visible keys
      for (int s = 0; s < n; ++s) {
        const F* ks = K + static_cast<size_t>(s) * HS;
        F dot = 0;
        for (int i = 0; i < HS; ++i) dot += qt[i] * ks[i];
        pt[s] = dot * scale;
      }
      // 2) softmax over those scores (in place), zeros for the masked future
      softmax_forward(pt, pt, 1, n);
      for (int s = n; s < T; ++s) pt[s] = 0;
      // 3) out_t = sum_s P[t, s] v_s (with dropout: sum_s D[t, s] v_s)
      F* ot = O + static_cast<size_t>(t) * HS;
      const uint8_t* kt = keep ? keep + (static_cast<size_t>(bh) * T + t) * T : nullptr;
      for (int i = 0; i < HS; ++i) ot[i] = 0;
      for (int s = 0; s < n; ++s) {
        const F* vs = V + static_cast<size_t>(s) * HS;
        const F p = kt ? (kt[s] ? pt[s] * keep_scale : F(0)) : pt[s];
        for (int i = 0; i < HS; ++i) ot[i] += p * vs[i];
      }
    }
  }
}

/// Accumulates the gradients of attention_forward into dq, dk, dv (each (B, NH, T, HS)), given
/// dout (B, NH, T, HS) and the forward's inputs and its saved weights att (B, NH, T, T) (and
/// the forward's dropout mask and probability, if it had one).
/// Scratch for one row of dP and dS (2 T numbers) is allocated inside.
template <typename F>
void attention_backward(F* dq, F* dk, F* dv, const F* dout, const F* q, const F* k, const F* v, const F* att,
                        int B, int NH, int T, int HS, bool causal, const uint8_t* keep = nullptr,
                        F drop_p = F(0)) {
  const F scale = F(1) / std::sqrt(static_cast<F>(HS));
  const F keep_scale = F(1) / (F(1) - drop_p);
  std::vector<F> dp(T), ds(T);  // one row of dL/dP and dL/dS
  for (int bh = 0; bh < B * NH; ++bh) {
    const size_t qkv_off = static_cast<size_t>(bh) * T * HS;
    const F* Q = q + qkv_off;
    const F* K = k + qkv_off;
    const F* V = v + qkv_off;
    const F* dO = dout + qkv_off;
    F* dQ = dq + qkv_off;
    F* dK = dk + qkv_off;
    F* dV = dv + qkv_off;
    const F* P = att + static_cast<size_t>(bh) * T * T;
    for (int t = 0; t < T; ++t) {
      const F* pt = P + static_cast<size_t>(t) * T;
      const F* dout_t = dO + static_cast<size_t>(t) * HS;
      const int n = causal ? t + 1 : T;
      const uint8_t* kt = keep ? keep + (static_cast<size_t>(bh) * T + t) * T : nullptr;
      // 3) back through out_t = sum_s P[t, s] v_s:  dP[t, s] = dout_t . v_s,  dv_s += P[t, s] dout_t
      //    (with dropout, D in place of P, and dP[t, s] = keep (dout_t . v_s) / (1 - p))
      for (int s = 0; s < n; ++s) {
        const F* vs = V + static_cast<size_t>(s) * HS;
        F* dvs = dV + static_cast<size_t>(s) * HS;
        const F w = kt ? (kt[s] ? pt[s] * keep_scale : F(0)) : pt[s];
        F sum = 0;
        for (int i = 0; i < HS; ++i) {
          sum += dout_t[i] * vs[i];
          dvs[i] += w * dout_t[i];
        }
        dp[s] = kt ? (kt[s] ? sum * keep_scale : F(0)) : sum;
      }
      // 2) back through the softmax of the visible scores (the masked ones had P = 0: no gradient)
      for (int s = 0; s < n; ++s) ds[s] = 0;
      softmax_backward(ds.data(), dp.data(), pt, 1, n);
      // 1) back through S[t, s] = q_t . k_s * scale
      const F* qt = Q + static_cast<size_t>(t) * HS;
      F* dqt = dQ + static_cast<size_t>(t) * HS;
      for (int s = 0; s < n; ++s) {
        const F* ks = K + static_cast<size_t>(s) * HS;
        F* dks = dK + static_cast<size_t>(s) * HS;
        const F g = ds[s] * scale;
        for (int i = 0; i < HS; ++i) {
          dqt[i] += g * ks[i];
          dks[i] += g * qt[i];
        }
      }
    }
  }
}

}  // namespace gpt2
