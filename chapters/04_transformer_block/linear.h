/// @file linear.h
/// @brief The linear layer in GPT-2's Conv1D convention: out = inp @ weight + bias.
///
/// GPT-2's checkpoints store every projection as a `Conv1D` whose weight has shape [in, out]
/// (PyTorch's nn.Linear would store [out, in]). We keep that layout so checkpoints load without
/// transposes:
///
///   out[i, o] = bias[o] + sum_c inp[i, c] * weight[c, o]        i < BT, o < OC, c < C
///
/// Backward, with dout = dL/dout:
///   dinp[i, c]    += sum_o dout[i, o] * weight[c, o]    (dinp = dout @ weight^T)
///   dweight[c, o] += sum_i inp[i, c] * dout[i, o]       (dweight = inp^T @ dout)
///   dbias[o]      += sum_i dout[i, o]
///
/// Like every backward in the course, linear_backward *adds* into the gradient buffers (the
/// model zeroes them once per step), because a parameter or activation used in several places
/// receives the sum of the gradients from each use.
///
/// These are the plain loops a student can check by hand. Chapter 08 writes fast versions of the
/// same three products and tests them against these.
#pragma once

#include <cstddef>

namespace gpt2 {

/// out (BT, OC) = inp (BT, C) @ weight (C, OC) + bias (OC). bias may be null (no bias).
/// PyTorch: torch.addmm(bias, inp, weight), i.e. transformers' Conv1D.
template <typename F>
void linear_forward(F* out, const F* inp, const F* weight, const F* bias, int BT, int C, int OC) {
  for (int i = 0; i < BT; ++i) {
    const F* x = inp + static_cast<size_t>(i) * C;
    F* y = out + static_cast<size_t>(i) * OC;
    for (int o = 0; o < OC; ++o) y[o] = bias ? bias[o] : F(0);
    // i-c-o loop order: the innermost loop walks a row of weight and a row of out contiguously.
    for (int c = 0; c < C; ++c) {
      const F xc = x[c];
      const F* w = weight + static_cast<size_t>(c) * OC;
      for (int o = 0; o < OC; ++o) y[o] += xc * w[o];
    }
  }
}

/// Accumulates the gradients of linear_forward. dinp, dweight and dbias may each be null when
/// that gradient is not needed (dbias must be null when the forward had no bias).
template <typename F>
void linear_backward(F* dinp, F* dweight, F* dbias, const F* dout, const F* inp, const F* weight, int BT,
                     int C, int OC) {
  for (int i = 0; i < BT; ++i) {
    const F* dy = dout + static_cast<size_t>(i) * OC;
    const F* x = inp + static_cast<size_t>(i) * C;
    if (dinp) {
      F* dx = dinp + static_cast<size_t>(i) * C;
      for (int c = 0; c < C; ++c) {
        const F* w = weight + static_cast<size_t>(c) * OC;
        F sum = 0;
        for (int o = 0; o < OC; ++o) sum += dy[o] * w[o];
        dx[c] += sum;
      }
    }
    if (dweight) {
      for (int c = 0; c < C; ++c) {
        F* dw = dweight + static_cast<size_t>(c) * OC;
        const F xc = x[c];
        for (int o = 0; o < OC; ++o) dw[o] += xc * dy[o];
      }
    }
    if (dbias) {
      for (int o = 0; o < OC; ++o) dbias[o] += dy[o];
    }
  }
}

}  // namespace gpt2
