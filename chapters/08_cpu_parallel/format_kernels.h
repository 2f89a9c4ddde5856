/// @file format_kernels.h
/// @brief The fast products for weights in bf16 and q8 (weight_formats.h): AVX2 and AVX-512
/// versions of each dot product, one-row products that stream the weights at memory speed, and
/// prompt-sized products that reuse the chapter's gemm.
///
/// Each function computes what its plain twin in weight_formats.h computes (same arguments:
/// out (N, rows) = inp (N, cols) @ W^T + bias), up to the order of the float additions, and gives
/// the same bits for any thread count: every output is computed by one thread, in an order fixed
/// by the shapes and the kernel set (active_simd(), simd.h).
///
/// **Decoding (a few rows of inp).** Every weight is used once per row of inp, so the product is
/// bound by reading the weights: each output is one dot product along a contiguous row of W, the
/// rows shared out over the threads in fixed chunks. The dot products widen the weights in
/// registers: bf16 by a 16-bit shift (`vpmovzxwd` then `vpslld`), q8 by a sign extension and a
/// conversion (`vpmovsxbd`, `vcvtdq2ps`), followed by fused multiply-adds, one scale per block.
///
/// **The q8 x q8 dot product** (activations quantized too, matmul_q8q8_fast): per block, the 32
/// int8 products are summed in int32 by the integer units. AVX2 has no signed x signed byte
/// product; `_mm256_maddubs_epi16` multiplies unsigned bytes by signed bytes and adds pairs into
/// int16. So the weights' signs are moved onto the activations, \f$ q_w q_x = |q_w| \cdot
/// (\mathrm{sign}(q_w) q_x) \f$ (`_mm256_sign_epi8`), the pairs' sums (at most
/// \f$ 2 \cdot 127^2 = 32258 \f$, no int16 overflow because no value is -128) are added into int32
/// by `_mm256_madd_epi16` with ones. AVX-512 VNNI does the same in one instruction,
/// `_mm512_dpbusd_epi32` (four unsigned x signed byte products added into each int32 lane), for
/// two blocks per 512-bit register. The block's int32 sum, converted to float exactly (it is below
/// \f$ 2^{24} \f$), is multiplied by \f$ s_w s_x \f$.
///
/// **Prompts (many rows).** Then each weight is used by every row, and the arithmetic matters:
/// bf16 and q8 with float activations widen a panel of W (a few hundred rows) into floats and hand
/// it to gemm() (matmul.h), so the prompt runs at gemm's speed; q8 x q8 computes its integer dot
/// products row block by row block, one block of W staying in L1 while every row of inp passes.
#pragma once

#include "chapters/08_cpu_parallel/weight_formats.h"

namespace gpt2 {

/// out (N, rows) = inp (N, cols) @ W^T + bias, W in bf16; the fast twin of matmul_bf16.
void matmul_bf16_fast(float* out, const float* inp, const Bf16Matrix& W, const float* bias, int N);

/// W in q8, activations float; the fast twin of matmul_q8.
void matmul_q8_fast(float* out, const float* inp, const Q8Matrix& W, const float* bias, int N);

/// W in q8, activations quantized per block; the fast twin of matmul_q8q8 (the same quantized
/// activations, the same exact int32 block sums, the float additions in another order).
void matmul_q8q8_fast(float* out, const float* inp, const Q8Matrix& W, const float* bias, int N);

/// Whether the AVX-512 kernel set's q8 x q8 products use VNNI (`vpdpbusd`): true by default on a
/// CPU that has it (cpu_has_avx512_vnni()); set_vnni(false) makes them use AVX-512 BW's
/// `vpmaddubsw` and `vpmaddwd` instead, as on a CPU without VNNI (the tests check both).
/// set_vnni(true) on a CPU without VNNI changes nothing.
bool vnni_active();
void set_vnni(bool allowed);

}  // namespace gpt2
