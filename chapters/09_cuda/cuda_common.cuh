/// @file cuda_common.cuh
/// @brief Small device-side helpers shared by the kernels: grid sizes and warp reductions.
///
/// A warp is 32 threads that execute together; `__shfl_xor_sync` lets them exchange registers
/// without touching memory. Five exchange steps (16, 8, 4, 2, 1) leave every lane holding the sum
/// (or max) of all 32 values: a butterfly reduction.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "chapters/09_cuda/cuda_check.h"

namespace gpt2::cuda {

inline constexpr int kWarpSize = 32;

/// Number of blocks of `block` threads that cover n items.
inline unsigned int blocks_for(size_t n, int block) {
  return static_cast<unsigned int>((n + block - 1) / block);
}

/// The sum of `x` over the 32 lanes of the warp, in every lane.
__device__ inline float warp_sum(float x) {
  for (int offset = 16; offset > 0; offset >>= 1) x += __shfl_xor_sync(0xffffffffu, x, offset);
  return x;
}

/// The maximum of `x` over the 32 lanes of the warp, in every lane.
__device__ inline float warp_max(float x) {
  for (int offset = 16; offset > 0; offset >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, offset));
  return x;
}

/// The sum of `x` over all threads of the block (blockDim.x a multiple of 32, at most 1024), in
/// every thread. `shared` must hold 32 floats. Each warp reduces in registers, warp leaders
/// write their partial sums to shared memory, and the first warp reduces those.
__device__ inline float block_sum(float x, float* shared) {
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  const int warps = blockDim.x / kWarpSize;
  x = warp_sum(x);
  __syncthreads();  // `shared` may still be read by a previous call
  if (lane == 0) shared[warp] = x;
  __syncthreads();
  x = lane < warps ? shared[lane] : 0.0f;
  return warp_sum(x);
}

/// The same for the maximum.
__device__ inline float block_max(float x, float* shared) {
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  const int warps = blockDim.x / kWarpSize;
  x = warp_max(x);
  __syncthreads();
  if (lane == 0) shared[warp] = x;
  __syncthreads();
  x = lane < warps ? shared[lane] : -INFINITY;
  return warp_max(x);
}

}  // namespace gpt2::cuda
