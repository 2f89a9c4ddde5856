/// @file exercises/08_cpu_parallel/exercise.h
/// @brief Exercises 08: loop order, a register-tiled micro-kernel, a deterministic parallel sum,
/// a packed matrix multiply built on the micro-kernel, int8 weights (a block's quantization and
/// the q8 x q8 dot product), and the tiled layout of a decode step's weights.
#pragma once

#include <cstddef>
#include <cstdint>

namespace exercise {

/// 08.1: out (M, N) = a (M, K) @ b (K, N), row-major, with the loops in i-k-j order so that the
/// innermost loop walks rows of b and out contiguously.
void matmul_ikj(float* out, const float* a, const float* b, int M, int K, int N);

/// 08.2: the 6 x 16 micro-kernel, portable C++: c (6 x 16, row stride ldc) += a @ b, where a is a
/// packed sliver (a[k * 6 + r] = A(r, k)) and b a packed sliver (b[k * 16 + j] = B(k, j)), k < kc.
void microkernel_6x16(int kc, const float* a, const float* b, float* c, int ldc);

/// 08.3: sum of x[0 .. n-1] in parallel that gives the same bits with any number of threads:
/// chunks of 4096 elements summed left to right, then the chunk sums added in chunk order.
float sum_deterministic(const float* x, size_t n);

/// 08.4: out (M, N) = a (M, K) @ b (K, N), row-major, any sizes >= 1: a packed into slivers of 6
/// rows and b into slivers of 16 columns (zero-padded at the edges), every 6 x 16 tile of out
/// computed by microkernel_6x16 (08.2) from one a sliver and one b sliver.
void matmul_packed(float* out, const float* a, const float* b, int M, int K, int N);

/// 08.5: quantizes one block of 32 values x[0 .. 31] to int8 (chapter 08, "Weight formats"):
/// returns the scale s = max_j |x_j| / 127 and writes q_j = round(x_j / s), the nearest integer,
/// so that |x_j - s q_j| <= s / 2 and q_j is in [-127, 127]. A block of zeros has s = 0, q = 0.
float quantize_block_q8(const float* x, int8_t* q);

/// 08.6: the dot product of two rows quantized block by block (08.5), `blocks` blocks of 32:
/// weights q (blocks * 32) with scales s (blocks), activations u (blocks * 32) with scales t
/// (blocks): sum over blocks b of (s_b t_b) I_b, where I_b = sum_{j in b} q_j u_j is summed exactly
/// in int32 and converted to float once per block.
float dot_q8q8(const int8_t* q, const float* s, const int8_t* u, const float* t, int blocks);

/// 08.7: y (OC) = x (C) @ W (C, OC) + b (OC), with W given in the tiled order of chapter 08's
/// decode copy ("A layout for decoding"). The rows of W are cut into chunks of 64 (the last one
/// shorter when C is not a multiple of 64), the columns into tiles of 64 (the last one narrower).
/// Chunk k, rows 64k to 64k + rows - 1, fills tiled[64k * OC .. (64k + rows) * OC), as in W; in
/// it, tile t (columns 64t to 64t + width - 1) starts at 64t * rows and holds its rows one after
/// the other, each `width` floats: W(c, o) is at 64k * OC + 64t * rows + (c - 64k) * width +
/// (o - 64t).
void matvec_tiled(float* y, const float* x, const float* tiled, const float* b, int C, int OC);

}  // namespace exercise
