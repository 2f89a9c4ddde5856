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

}  // namespace gpt2
