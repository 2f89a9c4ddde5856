#include "chapters/08_cpu_parallel/attention_fast.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <vector>

#include "chapters/08_cpu_parallel/vector_ops.h"

namespace gpt2 {

void attention_row_fast(float* o, float* p, const float* q, const float* K, const float* V, int n, int HS,
                        float scale) {
  // Scores of the n visible keys and their maximum.
  dots(p, q, K, n, HS);
  float maxval = -INFINITY;
  for (int s = 0; s < n; ++s) {
    p[s] *= scale;
    maxval = std::max(maxval, p[s]);
  }
  // Stable softmax: exp(S - max) is in (0, 1], the sum is >= 1 (vectorised exp, vector_ops.h).
  const float inv = 1.0f / exp_shifted(p, p, maxval, n);
  for (int s = 0; s < n; ++s) p[s] *= inv;
  std::fill(o, o + HS, 0.0f);
  add_weighted_rows(o, p, V, n, HS);
}

void multihead_attention_forward_fast(float* out, float* qkvh, float* att, const float* qkv, int B, int T,
                                      int C, int NH) {
  const int HS = C / NH;
  const size_t n = static_cast<size_t>(B) * T * C;  // elements of one of q, k, v
  const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
#pragma omp parallel for schedule(static)
  for (int bh = 0; bh < B * NH; ++bh) {
    const int b = bh / NH, h = bh % NH;
    float* Q = qkvh + static_cast<size_t>(bh) * T * HS;  // (T, HS) of this (b, h)
    float* K = Q + n;
    float* V = Q + 2 * n;
    // Split this head out of qkv (B, T, 3C) into qkvh, contiguous (T, HS) per head.
    for (int t = 0; t < T; ++t) {
      const float* row = qkv + (static_cast<size_t>(b) * T + t) * 3 * C + h * HS;
      std::memcpy(Q + t * HS, row, sizeof(float) * HS);
      std::memcpy(K + t * HS, row + C, sizeof(float) * HS);
      std::memcpy(V + t * HS, row + 2 * C, sizeof(float) * HS);
    }
    float* P = att + static_cast<size_t>(bh) * T * T;
    for (int t = 0; t < T; ++t) {
      float* p = P + static_cast<size_t>(t) * T;
      const float* q = Q + t * HS;
      // out[b, t, h HS : (h+1) HS] = sum_s p_s v_s over the t + 1 visible keys, written straight
      // into the merged layout; the masked weights are 0.
      attention_row_fast(out + (static_cast<size_t>(b) * T + t) * C + h * HS, p, q, K, V, t + 1, HS, scale);
      for (int s = t + 1; s < T; ++s) p[s] = 0.0f;
    }
  }
}

void multihead_attention_backward_fast(float* dqkv, const float* dout, const float* qkvh, const float* att,
                                       int B, int T, int C, int NH) {
  const int HS = C / NH;
  const size_t n = static_cast<size_t>(B) * T * C;
  const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
#pragma omp parallel
  {
    // Per-thread scratch: dq, dk, dv of one head (T, HS each), one row of dP and all of dS (T, T).
    std::vector<float> dq(static_cast<size_t>(T) * HS), dk(dq.size()), dv(dq.size()), dp(T),
        dS(static_cast<size_t>(T) * T);
#pragma omp for schedule(static)
    for (int bh = 0; bh < B * NH; ++bh) {
      const int b = bh / NH, h = bh % NH;
      const float* Q = qkvh + static_cast<size_t>(bh) * T * HS;
      const float* K = Q + n;
      const float* V = Q + 2 * n;
      const float* P = att + static_cast<size_t>(bh) * T * T;
      const float* dY = dout + static_cast<size_t>(b) * T * C + h * HS;  // row t at dY + t C
      std::fill(dq.begin(), dq.end(), 0.0f);
      std::fill(dk.begin(), dk.end(), 0.0f);
      std::fill(dv.begin(), dv.end(), 0.0f);
      for (int t = 0; t < T; ++t) {
        const float* p = P + static_cast<size_t>(t) * T;
        float* ds = dS.data() + static_cast<size_t>(t) * T;
        // Through out_t = sum_s p_s v_s: dP[t, s] = dout_t . v_s.
        dots(dp.data(), dY + static_cast<size_t>(t) * C, V, t + 1, HS);
        float pdp = 0.0f;  // sum_s p_s dP_s, for the softmax backward
        for (int s = 0; s <= t; ++s) pdp += p[s] * dp[s];
        // Through the softmax (dS_s = p_s (dP_s - sum p dP)) and S = q . k * scale:
        // dq_t += sum_s g_s k_s with g_s = dS_s * scale.
        for (int s = 0; s <= t; ++s) ds[s] = p[s] * (dp[s] - pdp) * scale;
        add_weighted_rows(dq.data() + t * HS, ds, K, t + 1, HS);
      }
      // The sums over the queries t >= s, in the order t = s, s + 1, ...:
      //   dv_s = sum_t p_ts dout_t   (out_t = sum_s p_ts v_s)
      //   dk_s = sum_t g_ts q_t      (S_ts = q_t . k_s * scale)
      // one column of P or dS against the rows of dout or Q, with dv_s and dk_s held in registers.
      for (int s = 0; s < T; ++s) {
        const size_t col = static_cast<size_t>(s) * T + s;  // (t = s, s) in P and dS
        add_weighted_rows_strided(dv.data() + s * HS, P + col, T, dY + static_cast<size_t>(s) * C, C, T - s,
                                  HS);
        add_weighted_rows_strided(dk.data() + s * HS, dS.data() + col, T, Q + static_cast<size_t>(s) * HS, HS,
                                  T - s, HS);
      }
      // Add this head's gradients into dqkv (B, T, 3C); no other (b, h) touches these channels.
      for (int t = 0; t < T; ++t) {
        float* row = dqkv + (static_cast<size_t>(b) * T + t) * 3 * C + h * HS;
        for (int i = 0; i < HS; ++i) {
          row[i] += dq[t * HS + i];
          row[C + i] += dk[t * HS + i];
          row[2 * C + i] += dv[t * HS + i];
        }
      }
    }
  }
}

}  // namespace gpt2
