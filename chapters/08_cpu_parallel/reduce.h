/// @file reduce.h
/// @brief A parallel sum whose result does not depend on the number of threads.
///
/// Float addition is not associative: (a + b) + c and a + (b + c) can differ in the last bit.
/// `#pragma omp parallel for reduction(+ : sum)` lets each thread sum the elements it was given
/// and then adds the threads' partial sums, so the grouping, and the result, change with
/// OMP_NUM_THREADS. The fix used throughout this chapter: cut the work into pieces whose size is
/// fixed by the problem (here 4096 elements), let threads compute whole pieces, and combine the
/// pieces' results in piece order on one thread. Same grouping whatever the thread count, so
/// the same bits.
#pragma once

#include <cstddef>

namespace gpt2 {

/// Elements per piece of sum_deterministic.
constexpr size_t kSumChunk = 4096;

/// sum_i x[i], as: each chunk of kSumChunk consecutive elements summed from left to right, then
/// the chunk sums added from left to right. Identical bits with any number of threads.
float sum_deterministic(const float* x, size_t n);

/// Chapter 06's sum_squares_chunks (the partial sums of the gradient norm: each chunk of
/// kNormChunk elements summed in double, in index order) with the same bits, faster: on AVX2 the
/// lanes of two vectors are 8 different chunks, each still summed in index order. The scalar loop
/// is one chain of dependent additions (a few cycles each: 80-90 ms a step for GPT-2 124M's
/// gradient on one core of a Zen 5); 8 chains side by side took 30 ms there.
void sum_squares_chunks_fast(const float* grad, size_t n, double* sums);

}  // namespace gpt2
