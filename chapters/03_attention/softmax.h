/// @file softmax.h
/// @brief The softmax of each row, computed stably, and its backward pass.
///
/// For one row x of n numbers:
///
///   softmax(x)_j = exp(x_j) / sum_k exp(x_k)
///
/// exp overflows float for x > 88, so we subtract the row's maximum m first. That changes
/// nothing mathematically (the factor exp(-m) cancels between numerator and denominator) and
/// makes every exponent <= 0, so every exp is in (0, 1] and the sum is in [1, n]:
///
///   softmax(x)_j = exp(x_j - m) / sum_k exp(x_k - m),   m = max_k x_k
///
/// Backward. With y = softmax(x), dy_j/dx_i = y_j (delta_ij - y_i), so for dL/dy = dy
///
///   dL/dx_i = sum_j dy_j y_j (delta_ij - y_i) = y_i (dy_i - sum_j y_j dy_j)
///
/// one dot product per row instead of the n x n Jacobian.
///
/// PyTorch: torch.softmax(inp, dim=-1) and its autograd backward (_softmax_backward_data).
#pragma once

#include <cmath>
#include <cstddef>

namespace gpt2 {

/// out (rows, n) = softmax over the last dimension of inp (rows, n). out may be the same array as
/// inp (each element is read before it is overwritten). n must be >= 1.
template <typename F>
void softmax_forward(F* out, const F* inp, int rows, int n) {
  for (int r = 0; r < rows; ++r) {
    const F* x = inp + static_cast<size_t>(r) * n;
    F* y = out + static_cast<size_t>(r) * n;
    F maxval = x[0];
    for (int j = 1; j < n; ++j) maxval = x[j] > maxval ? x[j] : maxval;
    F sum = 0;
    for (int j = 0; j < n; ++j) {
      y[j] = std::exp(x[j] - maxval);  // in (0, 1]: no overflow
      sum += y[j];
    }
    const F inv = F(1) / sum;  // sum >= 1 (the max contributes exp(0) = 1): no division by zero
    for (int j = 0; j < n; ++j) y[j] *= inv;
  }
}

/// Accumulates dinp (rows, n) += the gradient through softmax, given dout = dL/dout (rows, n) and
/// the forward's output out (rows, n): dinp_i += out_i (dout_i - sum_j out_j dout_j).
template <typename F>
void softmax_backward(F* dinp, const F* dout, const F* out, int rows, int n) {
  for (int r = 0; r < rows; ++r) {
    const size_t off = static_cast<size_t>(r) * n;
    const F* y = out + off;
    const F* dy = dout + off;
    F dot = 0;  // sum_j y_j dy_j
    for (int j = 0; j < n; ++j) dot += y[j] * dy[j];
    for (int j = 0; j < n; ++j) dinp[off + j] += y[j] * (dy[j] - dot);
  }
}

}  // namespace gpt2
