/// @file matvec.h
/// @brief The decode step's matrix products: a matrix times ONE vector, at the speed of memory.
/// FastCpuBackend's linear and lm_head use them when the product has one row (M = 1).
///
/// With the KV cache (chapter 07), each generated token runs every weight matrix on a single row. A
/// matrix-vector product does 2 flops per weight it reads (one multiply, one add) and reads every
/// weight exactly once: for GPT-2 124M that is 500 MB per token for 250 Mflop. The CPU can do far
/// more flops than that per second; the memory cannot deliver the bytes faster. So the kernel's
/// only job is to stream the weights through at full bandwidth, on every core:
///
///  - read memory **contiguously**, in the order it is stored, so the hardware prefetcher runs
///    ahead (walking down a column of a row-major matrix, one cache line per row, is many times
///    slower);
///  - split the work over the threads in **fixed chunks**, and add the chunks' results in a fixed
///    order, so the result does not depend on the thread count (chapter 08's rule);
///  - give small products to one thread: waking the others costs microseconds, more than a
///    product of a few thousand weights takes.
///
/// Chapter 04's linear_forward with one row (BT = 1) is the same function (tested), on one thread.
/// This chapter's gemm is built for many rows; for one row its packing (a copy of every weight
/// block) and 6-row tiles do mostly wasted work, so the backend hands M = 1 products to these.
#pragma once
#include "chapters/08_cpu_parallel/large_pages.h"

namespace gpt2 {

/// y (OC) = x (C) @ W (C, OC) + b (OC), W in GPT-2's Conv1D layout [in, out]; b may be null.
/// One row of chapter 04's linear_forward. The C rows of W are cut into chunks of 64: each chunk
/// adds x[c] W[c, :] over its rows into a partial sum (a contiguous stream of W), then y adds the
/// partial sums in chunk order.
void matvec_conv1d(float* y, const float* x, const float* W, const float* b, int C, int OC);

/// A Conv1D weight (C, OC) rearranged for decoding: the same floats, in tiles of 64 rows (the
/// chunks of matvec_conv1d) by 64 columns, each tile's rows one after the other. Chunk k keeps
/// the range of W it had, rows 64k to 64k + 63, and within it tile t (columns 64t to 64t + 63;
/// the last one narrower when OC is not a multiple of 64) starts at 64 t times the chunk's rows:
///
///     W (C, OC):  row 0: [t0 cols 0-63][t1 cols 64-127]...    tiled: [t0 row 0][t0 row 1]...[t0 row 63]
///                 row 1: [t0 ...      ][t1 ...        ]...           [t1 row 0][t1 row 1]...[t1 row 63]
///
/// A tile's 64 partial sums fit in registers (four of 16 floats, eight of 8), so the product reads
/// the tile as one contiguous stream and touches memory for nothing else: no load and store of
/// the partial sums per row of W, which is what keeps matvec_conv1d below the memory's speed.
/// It costs a second copy of the matrix, so only inference keeps one (WeightFormatBackend in f32).
struct TiledConv1D {
  int C = 0, OC = 0;
  LargeVector<float> values;  // C * OC floats in the tiled order
};

/// W (C, OC) in the tiled order.
TiledConv1D tile_conv1d(const float* W, int C, int OC);

/// matvec_conv1d with the weight in the tiled order: the same additions in the same order (each
/// output's partial sum adds x[c] W[c, o] over a chunk's rows in row order, then y adds the
/// partial sums in chunk order), so the same bits on every kernel set and thread count.
void matvec_conv1d_tiled(float* y, const float* x, const TiledConv1D& W, const float* b);

/// y (N) = W (N, C) @ x (C), W stored row by row (like the tied head's wte (V, C)). One row of
/// chapter 05's lm_head_forward: each output is a dot product of a contiguous row with x, summed
/// in 8 interleaved partial sums (combined in a fixed order) so the compiler can use SIMD without
/// reordering a single sum.
void matvec_rows(float* y, const float* W, const float* x, int N, int C);

}  // namespace gpt2
