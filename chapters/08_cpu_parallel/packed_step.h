/// @file packed_step.h
/// @brief Steps 4 to 6 of the walk in one readable file: packing, a 6 x 16 register tile (plain
/// C++ and AVX2 intrinsics), and OpenMP over column slivers.
///
/// out (M, N) = a (M, K) @ b (K, N), row-major, computed the way fast matrix multiplies are built
/// (GotoBLAS, BLIS), without any of the tuning that makes gemm() in matmul.cpp long:
///
///   for each block of KC = 256 values of k:
///     pack the (M, KC) block of a into slivers of 6 rows     a_packed[sliver][k][6]
///     for each panel of NC = 512 columns of b:
///       pack the (KC, NC) panel into slivers of 16 columns   b_packed[sliver][k][16]
///       \#pragma omp parallel for: for each b sliver (16 columns)
///         for each a sliver (6 rows):
///           tile (6 x 16) = a sliver @ b sliver, in registers   <- the micro-kernel
///           out[those rows, those columns] += tile
///
/// Why each piece is there:
/// - **Packing** copies each sliver so that what the micro-kernel reads for one k is contiguous:
///   6 values of a side by side, 16 values of b side by side. Edges are padded with zeros, so the
///   kernel always computes a full 6 x 16 tile and never checks a bound.
/// - **The register tile**: 96 accumulators stay in 12 AVX2 registers for all KC steps; per k the
///   kernel loads 2 vectors of b, broadcasts 6 values of a, and issues 12 fused multiply-adds.
/// - **Blocking**: a b panel (256 x 512 floats, 512 KB) stays in the L2 cache while every a sliver
///   passes over it, and one b sliver (16 KB) stays in L1 while the a slivers stream by.
/// - **Threads** split the b slivers of a panel: every element of out is computed by one thread,
///   and its K terms are added in the same order whatever the thread count (same bits).
///
/// gemm() adds what a model needs and this file leaves out: transposed operands, a bias, operands
/// packed once and kept, a split of the work along the longer side, one-row products. Both are
/// tested against the plain loop.
#pragma once

namespace gpt2 {

/// out (M, N) = a (M, K) @ b (K, N), row-major, with the packed 6 x 16 micro-kernel: AVX2 + FMA when
/// active_simd() allows it, plain C++ otherwise. Runs on the OpenMP threads.
void matmul_packed_step(float* out, const float* a, const float* b, int M, int K, int N);

}  // namespace gpt2
