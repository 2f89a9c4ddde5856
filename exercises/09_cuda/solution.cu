// Exercises 09 (solution). Chapter 09 has its own versions of the same ideas in elementwise.cu,
// attention.cu (a softmax per warp) and matmul_steps.cu (larger tiles, register blocking).
#include <cuda_runtime.h>

#include "chapters/09_cuda/cuda_check.h"
#include "exercise.h"

namespace exercise {

namespace {

// ---- 09.1 -------------------------------------------------------------------------------------
// Thread i handles i, i + (threads in the grid), ...: any grid covers any n, and neighbouring
// threads read neighbouring floats (coalesced).
__global__ void gelu_backward_kernel(float* dinp, const float* inp, const float* dout, int n) {
  const float s = 0.7978845608028654f;  // sqrt(2 / pi)
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    const float x = inp[i];
    const float u = s * (x + 0.044715f * x * x * x);
    const float t = tanhf(u);
    // d/dx [x/2 (1 + tanh u)] = (1 + tanh u)/2 + x/2 (1 - tanh^2 u) du/dx
    const float grad = 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * s * (1.0f + 3.0f * 0.044715f * x * x);
    dinp[i] += grad * dout[i];  // add: the gradient buffer already holds other contributions
  }
}

// ---- 09.2 -------------------------------------------------------------------------------------
// After the five exchanges (lanes 16, 8, 4, 2, 1 apart) every lane holds the result.
__device__ float warp_reduce_max(float x) {
  for (int offset = 16; offset > 0; offset /= 2) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, offset));
  return x;
}
__device__ float warp_reduce_sum(float x) {
  for (int offset = 16; offset > 0; offset /= 2) x += __shfl_xor_sync(0xffffffffu, x, offset);
  return x;
}

__global__ void softmax_rows_kernel(float* out, const float* inp, int rows, int n) {
  const int row = (blockIdx.x * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;  // the whole warp leaves together: the shuffles below stay complete
  const float* x = inp + static_cast<size_t>(row) * n;
  float* y = out + static_cast<size_t>(row) * n;
  float m = -INFINITY;
  for (int i = lane; i < n; i += 32) m = fmaxf(m, x[i]);  // lane l reads l, l + 32, ...: coalesced
  m = warp_reduce_max(m);
  float sum = 0.0f;
  for (int i = lane; i < n; i += 32) sum += expf(x[i] - m);
  sum = warp_reduce_sum(sum);
  for (int i = lane; i < n; i += 32) y[i] = expf(x[i] - m) / sum;
}

// ---- 09.3 -------------------------------------------------------------------------------------
constexpr int kTile = 16;

__global__ void matmul_tiled_kernel(float* out, const float* a, const float* b, int M, int K, int N) {
  __shared__ float a_tile[kTile][kTile];  // a[row0 .. +16, k0 .. +16]
  __shared__ float b_tile[kTile][kTile];  // b[k0 .. +16, col0 .. +16]
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int row = blockIdx.y * kTile + ty, col = blockIdx.x * kTile + tx;
  float sum = 0.0f;
  for (int k0 = 0; k0 < K; k0 += kTile) {
    // Each thread loads one element of each tile (zero outside the matrices): threads with
    // consecutive tx read consecutive addresses of a row, coalesced.
    a_tile[ty][tx] = (row < M && k0 + tx < K) ? a[static_cast<size_t>(row) * K + k0 + tx] : 0.0f;
    b_tile[ty][tx] = (k0 + ty < K && col < N) ? b[static_cast<size_t>(k0 + ty) * N + col] : 0.0f;
    __syncthreads();  // the tiles are complete before anyone reads them
    for (int k = 0; k < kTile; ++k) sum += a_tile[ty][k] * b_tile[k][tx];
    __syncthreads();  // everyone is done with the tiles before the next loads overwrite them
  }
  if (row < M && col < N) out[static_cast<size_t>(row) * N + col] = sum;
}

}  // namespace

void gelu_backward(float* dinp, const float* inp, const float* dout, int n) {
  if (n <= 0) return;
  const int threads = 256;
  const int blocks = (n + threads - 1) / threads < 4096 ? (n + threads - 1) / threads : 4096;
  gelu_backward_kernel<<<blocks, threads>>>(dinp, inp, dout, n);
  GPT2_CUDA_CHECK_LAUNCH("gelu_backward_kernel");
}

void softmax_rows(float* out, const float* inp, int rows, int n) {
  if (rows <= 0) return;
  const int threads = 256;  // 8 warps, 8 rows per block
  const int blocks = (rows * 32 + threads - 1) / threads;
  softmax_rows_kernel<<<blocks, threads>>>(out, inp, rows, n);
  GPT2_CUDA_CHECK_LAUNCH("softmax_rows_kernel");
}

void matmul_tiled(float* out, const float* a, const float* b, int M, int K, int N) {
  const dim3 threads(kTile, kTile);
  const dim3 blocks((N + kTile - 1) / kTile, (M + kTile - 1) / kTile);
  matmul_tiled_kernel<<<blocks, threads>>>(out, a, b, M, K, N);
  GPT2_CUDA_CHECK_LAUNCH("matmul_tiled_kernel");
}

}  // namespace exercise
