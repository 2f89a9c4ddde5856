/// @file gelu.h
/// @brief GELU in the tanh form GPT-2 uses, forward and backward.
///
/// GELU(x) = x Phi(x), Phi the standard normal CDF: a smooth ReLU that lets small negative values
/// through a little. GPT-2 (like BERT) computes it with the tanh approximation of Hendrycks and
/// Gimpel:
///
///   GELU(x) ~ 0.5 x (1 + tanh(u)),     u = sqrt(2/pi) (x + 0.044715 x^3)
///
/// Backward, using tanh'(u) = 1 - tanh(u)^2 = sech(u)^2:
///
///   dGELU/dx = 0.5 (1 + tanh(u)) + 0.5 x (1 - tanh(u)^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2)
///
/// Writing sech^2 as 1 - tanh^2 (not 1/cosh^2) keeps it finite for large |x|, where cosh
/// overflows. (llm.c's gelu_backward went wrong under -ffast-math; we never use that flag.)
///
/// PyTorch: torch.nn.functional.gelu(x, approximate='tanh') (Hugging Face: "gelu_new").
#pragma once

#include <cmath>
#include <cstddef>
#include <numbers>

namespace gpt2 {

/// out (n) = GELU(inp) (n), tanh form, element-wise. out may be the same array as inp.
template <typename F>
void gelu_forward(F* out, const F* inp, int n) {
  const F k = static_cast<F>(std::sqrt(2.0 / std::numbers::pi));  // sqrt(2/pi)
  for (int i = 0; i < n; ++i) {
    const F x = inp[i];
    const F u = k * (x + F(0.044715) * x * x * x);
    out[i] = F(0.5) * x * (F(1) + std::tanh(u));
  }
}

/// Accumulates dinp (n) += GELU'(inp) * dout, element-wise, given the forward's input inp (n).
template <typename F>
void gelu_backward(F* dinp, const F* inp, const F* dout, int n) {
  const F k = static_cast<F>(std::sqrt(2.0 / std::numbers::pi));
  for (int i = 0; i < n; ++i) {
    const F x = inp[i];
    const F u = k * (x + F(0.044715) * x * x * x);
    const F th = std::tanh(u);
    const F du_dx = k * (F(1) + F(3) * F(0.044715) * x * x);
    const F grad = F(0.5) * (F(1) + th) + F(0.5) * x * (F(1) - th * th) * du_dx;
    dinp[i] += grad * dout[i];
  }
}

}  // namespace gpt2
