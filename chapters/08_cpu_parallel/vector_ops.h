/// @file vector_ops.h
/// @brief Small SIMD building blocks for the fast kernels: dot product, axpy, and exp / tanh on
/// 8 (AVX2) or 16 (AVX-512) floats at a time, each with a portable twin.
///
/// Each function picks the AVX-512, the AVX2 or the portable version with active_simd()
/// (simd.h). The order in which a sum is added depends only on n and on the SIMD level, never on
/// threads, so a kernel built from these is deterministic. Between levels the sums are grouped
/// differently (8 or 16 partial sums), so the last bits of a dot product differ; element-wise
/// results (exp, GELU) are the same operations in every lane and agree bit for bit between AVX2
/// and AVX-512, except the last n mod 8 elements, which AVX2 computes with the scalar library
/// functions and AVX-512 with one masked vector step.
#pragma once

#include <cstddef>

namespace gpt2 {

/// sum_i a[i] b[i]. AVX2: 8 partial sums in one register (lane l adds the elements i = l mod 8),
/// then the 8 lanes are added in a fixed tree (horizontal_sum, simd.h), then the remaining n mod 8
/// elements. AVX-512: 16 partial sums, the last n mod 16 elements in a masked step, then the tree.
float dot(const float* a, const float* b, int n);

/// y[i] += alpha x[i] for i < n (BLAS's saxpy).
void axpy(float* y, float alpha, const float* x, int n);

/// out[s] = dot(x, rows + s * len, len) for s < n: one row of attention scores (x = a query,
/// rows = the keys). Each dot is added in the same order as dot().
void dots(float* out, const float* x, const float* rows, int n, int len);

/// y (len) += sum_s w[s] * rows[s * len ...] for s = 0 .. n-1, in that order: attention's weighted
/// sum of values. Same bits as n calls of axpy.
void add_weighted_rows(float* y, const float* w, const float* rows, int n, int len);

/// The same with strides: y (len) += sum_s w[s * w_stride] * rows[s * row_stride ...], s = 0 .. n-1
/// in that order (a column of a matrix of weights, rows that are not next to each other). Same
/// bits as n calls of axpy; faster, as y stays in registers while the rows are added.
void add_weighted_rows_strided(float* y, const float* w, std::size_t w_stride, const float* rows,
                               std::size_t row_stride, int n, int len);

/// out[i] = GELU(inp[i]) in GPT-2's tanh form (see chapter 04's gelu.h), for i < n. The AVX2
/// version computes tanh from a vectorised exp (tanh_avx2 in vector_ops.cpp); the portable one
/// calls std::tanh like the plain loop.
void gelu_forward_range(float* out, const float* inp, int n);

/// dinp[i] += GELU'(inp[i]) dout[i] for i < n.
void gelu_backward_range(float* dinp, const float* inp, const float* dout, int n);

/// max_i x[i] (n >= 1). Exact whatever the order.
float max_of(const float* x, int n);

/// sum_i exp(x[i] - shift), for shift >= max x (so every exp is in (0, 1]).
float sum_exp_shifted(const float* x, float shift, int n);

/// y[i] = exp(x[i] - shift) for shift >= max x; returns sum_i y[i]. y may be x. (The numerator
/// and denominator of a softmax row.)
float exp_shifted(float* y, const float* x, float shift, int n);

/// y[i] += alpha exp(x[i] - shift), for shift >= max x.
void add_scaled_exp_shifted(float* y, float alpha, const float* x, float shift, int n);

}  // namespace gpt2
