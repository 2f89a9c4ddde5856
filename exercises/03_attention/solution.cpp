// Exercises 03: one way to write each task (compare with yours after you have tried).
#include <cmath>
#include <cstddef>
#include <vector>

#include "exercise.h"

namespace exercise {

void softmax_backward(float* dinp, const float* dout, const float* out, int rows, int n) {
  for (int r = 0; r < rows; ++r) {
    const float* y = out + static_cast<size_t>(r) * n;
    const float* dy = dout + static_cast<size_t>(r) * n;
    float* dx = dinp + static_cast<size_t>(r) * n;
    // dx_i = sum_j dy_j y_j (delta_ij - y_i) = y_i (dy_i - sum_j y_j dy_j)
    float dot = 0;
    for (int j = 0; j < n; ++j) dot += y[j] * dy[j];
    for (int i = 0; i < n; ++i) dx[i] += y[i] * (dy[i] - dot);
  }
}

void causal_attention_weights(float* att, const float* q, const float* k, int T, int HS) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
  for (int t = 0; t < T; ++t) {
    float* row = att + static_cast<size_t>(t) * T;
    const float* qt = q + static_cast<size_t>(t) * HS;
    // The scores of the visible keys 0..t, and their maximum.
    float max_score = -INFINITY;
    for (int s = 0; s <= t; ++s) {
      const float* ks = k + static_cast<size_t>(s) * HS;
      float dot = 0;
      for (int i = 0; i < HS; ++i) dot += qt[i] * ks[i];
      row[s] = dot * scale;
      max_score = std::fmax(max_score, row[s]);
    }
    // A softmax over them; subtracting the maximum keeps every exp() in (0, 1].
    float sum = 0;
    for (int s = 0; s <= t; ++s) {
      row[s] = std::exp(row[s] - max_score);
      sum += row[s];
    }
    for (int s = 0; s <= t; ++s) row[s] /= sum;
    for (int s = t + 1; s < T; ++s) row[s] = 0;  // the future
  }
}

void attention_head_backward(float* dq, float* dk, float* dv, const float* dout, const float* q,
                             const float* k, const float* v, const float* att, int T, int HS) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
  std::vector<float> dp(T), ds(T);  // one row of dL/dP and dL/dS
  for (int t = 0; t < T; ++t) {
    const float* p = att + static_cast<size_t>(t) * T;
    const float* dout_t = dout + static_cast<size_t>(t) * HS;
    // out_t = sum_s P[t, s] v_s:  dP[t, s] = dout_t . v_s  and  dv_s += P[t, s] dout_t.
    for (int s = 0; s <= t; ++s) {
      const float* vs = v + static_cast<size_t>(s) * HS;
      float* dvs = dv + static_cast<size_t>(s) * HS;
      dp[s] = 0;
      for (int i = 0; i < HS; ++i) {
        dp[s] += dout_t[i] * vs[i];
        dvs[i] += p[s] * dout_t[i];
      }
    }
    // P[t, :] = softmax(S[t, 0..t]):  dS[t, s] = P[t, s] (dP[t, s] - sum_s' P[t, s'] dP[t, s']).
    float dot = 0;
    for (int s = 0; s <= t; ++s) dot += p[s] * dp[s];
    for (int s = 0; s <= t; ++s) ds[s] = p[s] * (dp[s] - dot);
    // S[t, s] = q_t . k_s * scale:  dq_t += dS[t, s] scale k_s  and  dk_s += dS[t, s] scale q_t.
    const float* qt = q + static_cast<size_t>(t) * HS;
    float* dqt = dq + static_cast<size_t>(t) * HS;
    for (int s = 0; s <= t; ++s) {
      const float* ks = k + static_cast<size_t>(s) * HS;
      float* dks = dk + static_cast<size_t>(s) * HS;
      const float g = ds[s] * scale;
      for (int i = 0; i < HS; ++i) {
        dqt[i] += g * ks[i];
        dks[i] += g * qt[i];
      }
    }
  }
}

}  // namespace exercise
