/// @file matmul.h
/// @brief A fast matrix multiply (cache blocking, packing, a register-tiled SIMD micro-kernel,
/// OpenMP) and the fast linear layer built on it.
///
/// Every product a GPT-2 training step needs is one call of gemm():
///
/// | product                         | M  | N  | K  | A             | B                |
/// |---------------------------------|----|----|----|---------------|------------------|
/// | out = inp @ weight + bias       | BT | OC | C  | inp           | weight           |
/// | dinp += dout @ weight^T         | BT | C  | OC | dout          | weight, transposed |
/// | dweight += inp^T @ dout         | C  | OC | BT | inp, transposed | dout           |
/// | logits = x @ wte^T (LM head)    | BT | V  | C  | x             | wte, transposed  |
///
/// The result is the same function as the plain loops of chapter 04 (`linear.h`), up to float
/// rounding: the sums are added in another order (in blocks of 256 terms, with fused multiply-add),
/// so results differ in the last bits. They do NOT depend on the number of threads: every output
/// element is computed by one thread, with its K terms in an order fixed by the shapes.
///
/// PyTorch: torch.addmm(bias, A, B) / torch.matmul.
#pragma once

#include <cstddef>

namespace gpt2 {

/// A read-only matrix operand op(X) with `rows` x `cols` given by the gemm() call:
/// element (r, c) is `data[r * ld + c]`, or `data[c * ld + r]` when `transposed`.
struct MatRef {
  const float* data = nullptr;
  int ld = 0;  ///< elements between consecutive rows of the stored (untransposed) array
  bool transposed = false;
};

/// C (M, N) = [C +] bias (N) + op(A) (M, K) @ op(B) (K, N).
///
/// @param M, N, K     the sizes: op(A) is M x K, op(B) is K x N, C is M x N
/// @param A           the left operand (read through MatRef, possibly transposed)
/// @param B           the right operand
/// @param C           the result, row-major with row stride ldc
/// @param ldc         elements between consecutive rows of C
/// @param accumulate  add into C (backward passes) instead of overwriting it
/// @param bias        added to every row; may be null
///
/// Fast path: blocks of op(B) (KC x NC) and op(A) (MC x KC) are copied ("packed") into
/// contiguous buffers in the order the micro-kernel reads them; the micro-kernel keeps a 6 x 16
/// tile of C in 12 AVX2 registers and adds one rank-1 update per k (6 broadcasts of A, 2 loads of
/// B, 12 fused multiply-adds). Threads split the rows or columns of C.
void gemm(int M, int N, int K, MatRef A, MatRef B, float* C, int ldc, bool accumulate, const float* bias);

/// out (BT, OC) = inp (BT, C) @ weight (C, OC) + bias (OC); bias may be null.
/// The fast twin of chapter 04's linear_forward (same arguments, same meaning).
void linear_forward_fast(float* out, const float* inp, const float* weight, const float* bias, int BT, int C,
                         int OC);

/// Accumulates the gradients of linear_forward_fast, like chapter 04's linear_backward:
/// dinp += dout @ weight^T, dweight += inp^T @ dout, dbias += column sums of dout.
/// Any of dinp, dweight, dbias may be null when that gradient is not needed.
void linear_backward_fast(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                          const float* weight, int BT, int C, int OC);

/// dbias (N) += sum over the M rows of dout (M, N), each column summed from row 0 to M - 1.
void column_sums_add(float* dbias, const float* dout, int M, int N);

}  // namespace gpt2
