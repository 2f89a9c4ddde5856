// The teaching matrix multiplies (matmul_steps.h). out (N, OC) = inp (N, C) @ weight (C, OC) + bias.
#include "chapters/09_cuda/cuda_common.cuh"
#include "chapters/09_cuda/matmul_steps.h"

namespace gpt2::cuda {

namespace {

// ---- step 1: naive -----------------------------------------------------------------------------
// Thread (row, col) computes out[row, col] = sum_c inp[row, c] weight[c, col]. threadIdx.x runs
// along col, so at each c the 32 threads of a warp read 32 consecutive floats of one weight row
// (coalesced, one transaction) and all read the same inp element (a broadcast). But every inp
// and weight element is read again by every thread that needs it: 2 C loads per 2 C flops, one
// load per flop, and global memory delivers ~1/20 of the loads the arithmetic units could use.
__global__ void matmul_naive_kernel(float* out, const float* inp, const float* weight, const float* bias,
                                    int N, int C, int OC) {
  const int col = blockIdx.x * blockDim.x + threadIdx.x;
  const int row = blockIdx.y * blockDim.y + threadIdx.y;
  if (row >= N || col >= OC) return;
  float sum = bias ? bias[col] : 0.0f;
  const float* x = inp + static_cast<size_t>(row) * C;
  for (int c = 0; c < C; ++c) sum += x[c] * weight[static_cast<size_t>(c) * OC + col];
  out[static_cast<size_t>(row) * OC + col] = sum;
}

// ---- step 2: shared-memory tiles + a little register blocking -----------------------------------
// A block computes a kTile x kTile (32 x 32) tile of out. It walks along C in steps of kTile:
// its threads copy a 32 x 32 tile of inp and one of weight into shared memory (each thread a few
// elements, coalesced), wait (__syncthreads), and then every thread does its multiply-adds from
// shared memory, which is ~100 times faster than global memory. Each global element is now loaded
// once per block instead of once per thread: 32 times fewer loads.
//
// Register blocking: a block has 32 x 8 threads, and each thread computes kRows = 4 outputs of
// one column (rows ty, ty + 8, ty + 16, ty + 24). The weight value it reads from shared memory is
// reused for 4 multiply-adds from a register: fewer shared-memory loads per flop again.
constexpr int kTile = 32;
constexpr int kRows = 4;                  // outputs per thread
constexpr int kThreadsY = kTile / kRows;  // 8

__global__ void matmul_tiled_kernel(float* out, const float* inp, const float* weight, const float* bias,
                                    int N, int C, int OC) {
  __shared__ float a_tile[kTile][kTile];  // inp[row0 + i, c0 + j]
  __shared__ float b_tile[kTile][kTile];  // weight[c0 + i, col0 + j]
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int row0 = blockIdx.y * kTile, col0 = blockIdx.x * kTile;
  float acc[kRows] = {0.0f, 0.0f, 0.0f, 0.0f};
  for (int c0 = 0; c0 < C; c0 += kTile) {
    // Cooperative loads: each of the 256 threads copies 4 elements of each tile. Threads with
    // consecutive tx read consecutive addresses of a row: coalesced. Outside the matrix: 0.
    for (int r = ty; r < kTile; r += kThreadsY) {
      const int arow = row0 + r, acol = c0 + tx;
      a_tile[r][tx] = (arow < N && acol < C) ? inp[static_cast<size_t>(arow) * C + acol] : 0.0f;
      const int brow = c0 + r, bcol = col0 + tx;
      b_tile[r][tx] = (brow < C && bcol < OC) ? weight[static_cast<size_t>(brow) * OC + bcol] : 0.0f;
    }
    __syncthreads();  // the tiles are complete before anyone reads them
    for (int k = 0; k < kTile; ++k) {
      const float b = b_tile[k][tx];  // one shared load, reused kRows times
      for (int i = 0; i < kRows; ++i) acc[i] += a_tile[ty + i * kThreadsY][k] * b;
    }
    __syncthreads();  // everyone is done with the tiles before the next loads overwrite them
  }
  const int col = col0 + tx;
  if (col >= OC) return;
  for (int i = 0; i < kRows; ++i) {
    const int row = row0 + ty + i * kThreadsY;
    if (row < N) out[static_cast<size_t>(row) * OC + col] = acc[i] + (bias ? bias[col] : 0.0f);
  }
}

}  // namespace

void matmul_naive(float* out, const float* inp, const float* weight, const float* bias, int N, int C,
                  int OC) {
  if (N == 0 || OC == 0) return;
  const dim3 block(16, 16);
  const dim3 grid(blocks_for(OC, 16), blocks_for(N, 16));
  matmul_naive_kernel<<<grid, block>>>(out, inp, weight, bias, N, C, OC);
  GPT2_CUDA_CHECK_LAUNCH("matmul_naive_kernel");
}

void matmul_tiled(float* out, const float* inp, const float* weight, const float* bias, int N, int C,
                  int OC) {
  if (N == 0 || OC == 0) return;
  const dim3 block(kTile, kThreadsY);
  const dim3 grid(blocks_for(OC, kTile), blocks_for(N, kTile));
  matmul_tiled_kernel<<<grid, block>>>(out, inp, weight, bias, N, C, OC);
  GPT2_CUDA_CHECK_LAUNCH("matmul_tiled_kernel");
}

}  // namespace gpt2::cuda
