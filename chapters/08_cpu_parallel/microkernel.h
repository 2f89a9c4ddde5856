/// @file microkernel.h
/// @brief The innermost loop of the fast matrix multiply: a tile of C kept in registers.
///
/// The micro-kernel multiplies a packed sliver of A (kMR rows, kc columns) by a packed sliver of
/// B (kc rows, NR columns):
///
/// \f[ C_{rj} \mathrel{+}= \sum_{k=0}^{kc-1} a_{rk}\, b_{kj}, \qquad r < kMR,\ j < NR, \f]
///
/// as kc rank-1 updates. With AVX2, a row of the 6 x 16 tile is two 8-float registers, so the
/// tile lives in 12 of the 16 vector registers; each k loads 16 floats of B into 2 registers,
/// broadcasts the 6 values of A in turn and issues 12 fused multiply-adds. That is 192 floating
/// point operations for 8 loads: the loads are cheap, the FMA units are busy every cycle, and the
/// kernel runs near the machine's peak. Everything outside (blocking, packing) exists to feed it.
///
/// With AVX-512 the registers hold 16 floats, so the same 6 x 2 registers make a 6 x 32 tile:
/// NR = kNR512 = 32, the same loop with twice the work per instruction. The portable and AVX2
/// kernels use NR = kNR = 16; tile_cols() says which.
///
/// Packed layouts (what pack_a / pack_b in matmul.cpp write):
///   a[k * kMR + r] = A(r, k)   (column k of the sliver, its kMR rows side by side)
///   b[k * NR + j]  = B(k, j)   (row k of the sliver, its NR columns side by side)
/// Rows and columns past the edge of the matrix are packed as zeros.
#pragma once

#include <cstddef>

#include "chapters/08_cpu_parallel/simd.h"

namespace gpt2 {

constexpr int kMR = 6;      ///< rows of the register tile
constexpr int kNR = 16;     ///< columns of the portable and AVX2 tile (two 8-float registers)
constexpr int kNR512 = 32;  ///< columns of the AVX-512 tile (two 16-float registers)

/// Columns NR of the register tile of a kernel set: kNR512 for AVX-512, kNR otherwise.
constexpr int tile_cols(Simd simd) {
  return simd == Simd::avx512 ? kNR512 : kNR;
}

/// c (rows x cols, row stride ldc) = (load_c ? c : 0) + bias + a @ b, for rows <= kMR and
/// cols <= tile_cols(simd) (the edge tiles of a matrix are smaller). bias (cols) may be null.
/// `a` and `b` are packed as described in the file comment; `b` must be 64-byte aligned.
void microkernel(Simd simd, int kc, const float* a, const float* b, float* c, size_t ldc, int rows, int cols,
                 const float* bias, bool load_c);

}  // namespace gpt2
