/// @file lora.h
/// @brief LoRA (low-rank adaptation) on a Conv1D layer: forward, backward, and merging.
///
/// Fine-tuning changes every weight matrix W (C, OC) by some update dW. LoRA (Hu et al., 2021)
/// bets that a useful update has low rank and trains it in factored form, leaving W frozen:
///
///   y = x W + b + s * (x A^T) B^T,      A (r, C),  B (OC, r),  s = alpha / r
///
/// so dW = s * (B A)^T has rank at most r, and a layer trains r (C + OC) numbers instead of
/// C * OC (for GPT-2's c_attn, 768 x 2304, rank 8: 24,576 instead of 1,769,472).
///
/// **Orientation.** We store A and B as Hugging Face's PEFT library does, so our adapters and
/// theirs are the same files: `lora_A` is an nn.Linear(C, r) whose weight is (r, C), `lora_B` an
/// nn.Linear(r, OC) whose weight is (OC, r), and the forward is `lora_B(lora_A(x)) * scaling`.
/// GPT-2's own layers are Conv1D with W stored (C, OC) (chapter 04's linear.h), which PEFT calls
/// fan_in_fan_out: merging transposes the product, W' = W + s (B A)^T.
///
/// **Initialisation.** PEFT draws A uniformly in [-1/sqrt(C), 1/sqrt(C)] (kaiming_uniform with
/// a = sqrt(5)) and sets B = 0. With B = 0 the update is exactly zero: the adapted model starts
/// as the base model, and the first gradient step moves B (dB is not zero because A is not).
/// Were both zero, dA = 0 and dB = 0 forever; were both random, training would start from a
/// randomly perturbed model.
///
/// Forward, with u = x A^T (N, r), saved for the backward:
///
///   out[n, o] += s * sum_j u[n, j] * B[o, j]           (after the base layer wrote x W + b)
///
/// Backward, with g = dL/dout (N, OC) and du = s * g B (N, r):
///
///   dB[o, j] += s * sum_n g[n, o] * u[n, j]            (dB = s g^T u)
///   dA[j, c] += sum_n du[n, j] * x[n, c]               (dA = du^T x)
///   dx[n, c] += sum_j du[n, j] * A[j, c]               (dx = du A, added to the base's g W^T)
///
/// PyTorch (peft.tuners.lora.Linear around a Conv1D, lora_dropout = 0):
/// `result = conv1d(x) + lora_B(lora_A(x)) * scaling`.
#pragma once

#include <cstddef>
#include <vector>

namespace gpt2 {

/// Adds the low-rank term to out (N, OC), which already holds the base layer's x W + b:
/// out += scale * (inp (N, C) @ A^T) @ B^T with A (r, C), B (OC, r). Writes u (N, r) = inp @ A^T
/// for the backward.
template <typename F>
void lora_forward(F* out, F* u, const F* inp, const F* A, const F* B, F scale, int N, int C, int OC, int r) {
  for (int n = 0; n < N; ++n) {
    const F* x = inp + static_cast<size_t>(n) * C;
    F* un = u + static_cast<size_t>(n) * r;
    // u[n, :] = x A^T: r dot products with A's rows.
    for (int j = 0; j < r; ++j) {
      const F* a = A + static_cast<size_t>(j) * C;
      F sum = 0;
      for (int c = 0; c < C; ++c) sum += x[c] * a[c];
      un[j] = sum;
    }
    // out[n, :] += s * u[n, :] B^T: OC dot products of length r.
    F* y = out + static_cast<size_t>(n) * OC;
    for (int o = 0; o < OC; ++o) {
      const F* b = B + static_cast<size_t>(o) * r;
      F sum = 0;
      for (int j = 0; j < r; ++j) sum += un[j] * b[j];
      y[o] += scale * sum;
    }
  }
}

/// Accumulates the gradients of lora_forward: dinp (N, C), dA (r, C), dB (OC, r) from
/// dout (N, OC), given the forward's inp and u. Any of the three may be null. (The base layer's
/// own gradients come from chapter 04's linear_backward; with W frozen, pass dweight = null.)
template <typename F>
void lora_backward(F* dinp, F* dA, F* dB, const F* dout, const F* inp, const F* u, const F* A, const F* B,
                   F scale, int N, int C, int OC, int r) {
  std::vector<F> du(static_cast<size_t>(r));
  for (int n = 0; n < N; ++n) {
    const F* g = dout + static_cast<size_t>(n) * OC;
    const F* x = inp + static_cast<size_t>(n) * C;
    const F* un = u + static_cast<size_t>(n) * r;
    // du = s * g B (r numbers) and dB += s * g^T u, in one pass over B's rows.
    for (int j = 0; j < r; ++j) du[j] = 0;
    for (int o = 0; o < OC; ++o) {
      const F sg = scale * g[o];
      const F* b = B + static_cast<size_t>(o) * r;
      for (int j = 0; j < r; ++j) du[j] += sg * b[j];
      if (dB) {
        F* db = dB + static_cast<size_t>(o) * r;
        for (int j = 0; j < r; ++j) db[j] += sg * un[j];
      }
    }
    for (int j = 0; j < r; ++j) {
      const F* a = A + static_cast<size_t>(j) * C;
      if (dA) {
        F* da = dA + static_cast<size_t>(j) * C;
        for (int c = 0; c < C; ++c) da[c] += du[j] * x[c];
      }
      if (dinp) {
        F* dx = dinp + static_cast<size_t>(n) * C;
        for (int c = 0; c < C; ++c) dx[c] += du[j] * a[c];
      }
    }
  }
}

/// Merges the update into the base weight W (C, OC), in place: W[c, o] += scale * sum_j
/// B[o, j] * A[j, c], i.e. W += scale * (B A)^T. Afterwards linear_forward with W alone computes
/// what linear_forward + lora_forward computed, up to float rounding.
template <typename F>
void lora_merge(F* W, const F* A, const F* B, F scale, int C, int OC, int r) {
  for (int c = 0; c < C; ++c) {
    F* w = W + static_cast<size_t>(c) * OC;
    for (int o = 0; o < OC; ++o) {
      const F* b = B + static_cast<size_t>(o) * r;
      F sum = 0;
      for (int j = 0; j < r; ++j) sum += b[j] * A[static_cast<size_t>(j) * C + c];
      w[o] += scale * sum;
    }
  }
}

}  // namespace gpt2
