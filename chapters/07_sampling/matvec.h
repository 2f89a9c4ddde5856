/// @file matvec.h
/// @brief The decode step's matrix products: a matrix times ONE vector, at the speed of memory.
///
/// With the KV cache, each generated token runs every weight matrix on a single row. A
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
///  - avoid **4K aliasing**: when a store and a later load are a multiple of 4096 bytes apart,
///    the CPU may wrongly assume the load depends on the store and stall it. Our partial sums and
///    the weight rows are both page-aligned, with rows a multiple of 4 KB long for some shapes
///    (3072 floats = 12 KB), so every load would alias the previous store; we shift the
///    partial-sum buffer by half a page from the weights. Measured here: 0.6 GB/s without the
///    shift, 24 GB/s with it, for the same loop.
///
/// Chapter 04's linear_forward with one row (BT = 1) is the same function (tested), but it is one
/// thread and its `y[o] += x[c] w[c, o]` loop stores into y right after loading w: exactly the
/// aliasing case. Chapter 08's gemm is built for many rows; for one row its packing and 6-row
/// tiles do mostly wasted work.
#pragma once

namespace gpt2 {

/// y (OC) = x (C) @ W (C, OC) + b (OC), W in GPT-2's Conv1D layout [in, out]; b may be null.
/// One row of chapter 04's linear_forward. The C rows of W are cut into chunks of 64: each chunk
/// adds x[c] W[c, :] over its rows into a partial sum (a contiguous stream of W), then y adds the
/// partial sums in chunk order.
void matvec_conv1d(float* y, const float* x, const float* W, const float* b, int C, int OC);

/// y (N) = W (N, C) @ x (C), W stored row by row (like the tied head's wte (V, C)). One row of
/// chapter 05's lm_head_forward: each output is a dot product of a contiguous row with x, summed
/// in 8 interleaved partial sums (combined in a fixed order) so the compiler can use SIMD without
/// reordering a single sum.
void matvec_rows(float* y, const float* W, const float* x, int N, int C);

}  // namespace gpt2
