/// @file weight_formats.h
/// @brief Fewer bytes per weight for inference: bfloat16, and int8 in blocks of 32 with one scale
/// per block (llama.cpp's Q8_0 idea), with the plain loops that define each product.
///
/// Generating one token with the KV cache reads every weight matrix once (matvec.h): at batch 1
/// the speed limit is the memory bandwidth divided by the bytes of the weights. GPT-2 124M in
/// float32 is 498 MB a token. Storing the weights in fewer bytes is the only way past that limit:
///
///     format  bytes per weight  what is stored                                 error of a weight w
///     f32     4                 the float                                      none
///     bf16    2                 the float's upper 16 bits, rounded             at most 2^-8 |w|
///     q8      1.125             per block of 32 weights one float scale        at most s / 2
///                               s = max |w| / 127 and 32 int8 q = round(w / s)
///
/// The arithmetic stays float32: a bf16 weight is widened exactly to a float (a shift by 16
/// bits), a q8 weight is \f$ s \cdot q \f$. The q8 products come in two kinds: with the
/// activations kept float (`matmul_q8`), or with the activations quantized the same way, per block
/// of 32, so that each block's dot product is a sum of int8 x int8 products in exact int32
/// arithmetic, scaled once by \f$ s_w s_x \f$ (`matmul_q8q8`, llama.cpp's `vec_dot_q8_0_q8_0`).
///
/// **Layout.** A converted matrix is stored the way the products read it: one row per output,
/// holding the weights that output sums over (its `cols` inputs), so that a row is one contiguous
/// dot product and a q8 block runs along it. The tied head `wte` (V, C) is already in this form;
/// a Conv1D weight (C, OC) of chapter 04 is stored transposed, (OC, C). A q8 row is padded with
/// zero weights to a whole number of blocks.
///
/// The chapter's README derives the error bounds and what they mean for a dot product; the fast
/// kernels (format_kernels.h) compute the same functions as the plain loops here and are tested
/// against them and against the float product they approximate.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "chapters/08_cpu_parallel/large_pages.h"

namespace gpt2 {

/// How the weight matrices of a model are held for inference.
enum class WeightFormat {
  f32,   ///< float32, as trained (the default; the only format training uses)
  bf16,  ///< bfloat16: 2 bytes per weight
  q8,    ///< int8 in blocks of 32 with a float scale per block: 1.125 bytes per weight
};

/// "f32", "bf16" or "q8".
const char* weight_format_name(WeightFormat format);
/// The format named `name` ("f32", "bf16", "q8"); throws gpt2::Error naming `what` (a flag or a
/// file) for anything else.
WeightFormat parse_weight_format(std::string_view name, std::string_view what);

/// What the q8 products do with the activations.
enum class Q8Activations {
  f32,  ///< kept float: each weight is widened to s q and multiplied in float
  q8,   ///< quantized per block of 32 like the weights: int8 x int8 sums in int32, then scaled
};

/// "f32" or "q8".
const char* q8_activations_name(Q8Activations activations);

// =============================================================================================
// The formats
// =============================================================================================

/// The number of weights that share one q8 scale.
constexpr int kQ8Block = 32;

/// Quantizes the n <= 32 values x[0 .. n-1] into q[0 .. 31]: returns the scale
/// s = max_j |x_j| / 127 and sets q_j = round(x_j / s), so that |x_j - s q_j| <= s / 2 and q_j is
/// in [-127, 127] (never -128: the fast kernels rely on it). q_j = 0 for j >= n, and every q_j and
/// s are 0 for a block of zeros.
float quantize_q8_block(const float* x, int n, int8_t* q);

/// A weight matrix in bfloat16, one row per output: `values` (rows, cols).
struct Bf16Matrix {
  int rows = 0, cols = 0;
  LargeVector<uint16_t> values;
  const uint16_t* row(int r) const { return values.data() + static_cast<size_t>(r) * cols; }
};

/// A weight matrix in q8, one row per output: each row of `cols` weights is cut into blocks()
/// blocks of 32 (the last one padded with zeros); `q` (rows, blocks() * 32) holds the int8
/// values, `scales` (rows, blocks()) one scale per block. Weight (r, c) is
/// scales[r * blocks() + c / 32] * q[r * blocks() * 32 + c].
struct Q8Matrix {
  int rows = 0, cols = 0;
  LargeVector<int8_t> q;
  LargeVector<float> scales;
  int blocks() const { return (cols + kQ8Block - 1) / kQ8Block; }
  const int8_t* row(int r) const { return q.data() + static_cast<size_t>(r) * blocks() * kQ8Block; }
  const float* row_scales(int r) const { return scales.data() + static_cast<size_t>(r) * blocks(); }
};

/// A float matrix to convert: `rows` outputs of `cols` inputs each. Weight (r, c) is
/// data[r * cols + c] (the head's wte, (V, C)), or data[c * rows + r] when `conv1d` (chapter 04's
/// Conv1D weight (C, OC), whose rows are the inputs).
struct FloatWeights {
  const float* data = nullptr;
  int rows = 0, cols = 0;
  bool conv1d = false;
  float at(int r, int c) const {
    return conv1d ? data[static_cast<size_t>(c) * rows + r] : data[static_cast<size_t>(r) * cols + c];
  }
};

/// Each weight rounded to the nearest bfloat16 (ties to even).
Bf16Matrix to_bf16(const FloatWeights& w);
/// Each row quantized block by block with quantize_q8_block.
Q8Matrix to_q8(const FloatWeights& w);
/// The float values a converted matrix stands for, written back in `w`'s layout (w.data is
/// written through: pass the buffer to fill). bf16 widens exactly; q8 gives s q.
void from_bf16(const Bf16Matrix& m, float* data, bool conv1d);
void from_q8(const Q8Matrix& m, float* data, bool conv1d);

// =============================================================================================
// The products, plain loops: the definitions the fast kernels are tested against
// =============================================================================================
// Each computes out (N, rows) = inp (N, cols) @ W^T + bias (rows), that is
//   out[n, r] = bias[r] + sum_c W(r, c) inp[n, c],
// for the N rows of inp (N = 1: a decode step; N = T: a prompt); bias may be null. This is
// chapter 04's linear_forward for a Conv1D weight, and chapter 05's lm_head_forward (no bias) for
// the head.

/// W in bfloat16, widened to float: sum_c float(W(r, c)) inp[n, c].
void matmul_bf16(float* out, const float* inp, const Bf16Matrix& W, const float* bias, int N);

/// W in q8, activations float: sum over blocks b of s_b * sum_{j in b} q_j inp[n, j].
void matmul_q8(float* out, const float* inp, const Q8Matrix& W, const float* bias, int N);

/// W in q8 and each row of inp quantized per block of 32 (quantize_q8_block) to (t, q_x):
/// sum over blocks b of (s_b t_b) * I_b, with I_b = sum_{j in b} q_j q_x,j summed exactly in int32.
void matmul_q8q8(float* out, const float* inp, const Q8Matrix& W, const float* bias, int N);

/// One row x (cols) quantized per block of 32 with quantize_q8_block: q (blocks * 32), scales
/// (blocks), blocks = ceil(cols / 32). What matmul_q8q8 does to each row of inp.
void quantize_q8_row(const float* x, int cols, int8_t* q, float* scales);

}  // namespace gpt2
