/// @file residual.h
/// @brief The residual connection: out = a + b, and its backward pass.
///
/// A transformer block never replaces its input; it adds a correction to it,
/// x <- x + f(x). The backward of a sum hands the same gradient to both operands,
///
///   da += dout,   db += dout,
///
/// so the gradient reaches the block's input unchanged along the "residual stream", however
/// many blocks are stacked: this is what makes deep transformers trainable.
///
/// PyTorch: `out = a + b`.
#pragma once

namespace gpt2 {

/// out (n) = a (n) + b (n), element-wise. out may be the same array as a or b.
template <typename F>
void residual_forward(F* out, const F* a, const F* b, int n) {
  for (int i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

/// Accumulates da (n) += dout (n) and db (n) += dout (n).
template <typename F>
void residual_backward(F* da, F* db, const F* dout, int n) {
  for (int i = 0; i < n; ++i) {
    da[i] += dout[i];
    db[i] += dout[i];
  }
}

}  // namespace gpt2
