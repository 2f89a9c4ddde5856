/// @file layernorm.h
/// @brief Layer normalisation over the channels of each position, forward and backward.
///
/// For each row x of C numbers (one position of one sequence):
///
///   mean = (1/C) sum_c x_c
///   var  = (1/C) sum_c (x_c - mean)^2          (the biased variance, as PyTorch uses)
///   rstd = 1 / sqrt(var + eps)                 (GPT-2: eps = 1e-5)
///   xhat_c = (x_c - mean) * rstd               (zero mean, unit variance)
///   out_c  = xhat_c * weight_c + bias_c        (a learned scale and shift per channel)
///
/// The forward saves mean and rstd for each row, so the backward need not recompute them.
///
/// Backward, with g_c = dout_c * weight_c (the gradient reaching xhat): since every xhat_c
/// depends on every x through mean and rstd, the chain rule gives
///
///   dx_c = rstd * ( g_c - mean_c'(g_c') - xhat_c * mean_c'(g_c' xhat_c') )
///
/// the gradient g with its mean removed (the mean does not change xhat) and its component along
/// xhat removed (the scale does not change xhat either). The parameters:
///
///   dweight_c += sum over rows of dout_c xhat_c      dbias_c += sum over rows of dout_c
///
/// PyTorch: torch.nn.functional.layer_norm(inp, (C,), weight, bias, eps).
#pragma once

#include <cmath>
#include <cstddef>

namespace gpt2 {

/// GPT-2's LayerNorm epsilon (Hugging Face config: layer_norm_epsilon = 1e-5).
inline constexpr double kGpt2LayerNormEps = 1e-5;

/// out (N, C) = LayerNorm of each row of inp (N, C) with weight (C) and bias (C); writes the
/// row statistics mean (N) and rstd (N) for the backward pass. N is the number of rows (B * T).
template <typename F>
void layernorm_forward(F* out, F* mean, F* rstd, const F* inp, const F* weight, const F* bias, int N, int C,
                       F eps) {
  for (int r = 0; r < N; ++r) {
    const F* x = inp + static_cast<size_t>(r) * C;
    F* y = out + static_cast<size_t>(r) * C;
    F m = 0;
    for (int c = 0; c < C; ++c) m += x[c];
    m /= C;
    F v = 0;  // two passes (mean first, then squared deviations): no cancellation as in E[x^2] - m^2
    for (int c = 0; c < C; ++c) v += (x[c] - m) * (x[c] - m);
    v /= C;
    const F s = F(1) / std::sqrt(v + eps);
    for (int c = 0; c < C; ++c) y[c] = (x[c] - m) * s * weight[c] + bias[c];
    mean[r] = m;
    rstd[r] = s;
  }
}

/// Accumulates the input gradient of one row: dx (C) += rstd (g - mean(g) - xhat mean(g xhat)),
/// g = dy * weight, given the row's input x (C), its dout dy (C) and its saved mean m and rstd s.
/// (Chapter 08's fast LayerNorm calls this for one row when it runs without SIMD.)
template <typename F>
void layernorm_backward_row(F* dx, const F* dy, const F* x, const F* weight, F m, F s, int C) {
  // Two row means the formula needs: mean(g) and mean(g * xhat), g = dout * weight.
  F g_mean = 0, gx_mean = 0;
  for (int c = 0; c < C; ++c) {
    const F xhat = (x[c] - m) * s;
    const F g = dy[c] * weight[c];
    g_mean += g;
    gx_mean += g * xhat;
  }
  g_mean /= C;
  gx_mean /= C;
  for (int c = 0; c < C; ++c) {
    const F xhat = (x[c] - m) * s;
    const F g = dy[c] * weight[c];
    dx[c] += s * (g - g_mean - xhat * gx_mean);
  }
}

/// Accumulates the gradients of layernorm_forward: dinp (N, C), dweight (C), dbias (C), given
/// dout (N, C), the forward's input inp (N, C), weight (C) and the saved mean (N), rstd (N).
template <typename F>
void layernorm_backward(F* dinp, F* dweight, F* dbias, const F* dout, const F* inp, const F* weight,
                        const F* mean, const F* rstd, int N, int C) {
  for (int r = 0; r < N; ++r) {
    const size_t off = static_cast<size_t>(r) * C;
    const F* x = inp + off;
    const F* dy = dout + off;
    const F m = mean[r], s = rstd[r];
    layernorm_backward_row(dinp + off, dy, x, weight, m, s, C);
    // The parameters see every row: their gradients are sums over the rows.
    for (int c = 0; c < C; ++c) {
      const F xhat = (x[c] - m) * s;
      dbias[c] += dy[c];
      dweight[c] += dy[c] * xhat;
    }
  }
}

}  // namespace gpt2
