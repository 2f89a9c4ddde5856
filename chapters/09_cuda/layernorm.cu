// LayerNorm forward and backward on the GPU. CPU reference: chapters/04_transformer_block/layernorm.h.
//
// A row of C numbers (C = 768 for GPT-2 small) is a natural unit for one warp: its 32 lanes read
// the row in 32-wide strides (lane l reads elements l, l + 32, ...: coalesced), reduce the
// partial sums with register shuffles (cuda_common.cuh), and every lane ends with the row's mean
// and variance. No shared memory and no __syncthreads are needed.
#include "chapters/09_cuda/cuda_common.cuh"
#include "chapters/09_cuda/kernels.h"

namespace gpt2::cuda {

namespace {

constexpr int kBlock = 256;  // 8 warps, so 8 rows per block
constexpr int kRowsPerBlock = kBlock / kWarpSize;

__global__ void layernorm_forward_kernel(float* out, float* mean, float* rstd, const float* inp,
                                         const float* weight, const float* bias, int N, int C, float eps) {
  const int row = blockIdx.x * kRowsPerBlock + threadIdx.x / kWarpSize;
  const int lane = threadIdx.x % kWarpSize;
  if (row >= N) return;  // the whole warp leaves together
  const float* x = inp + static_cast<size_t>(row) * C;
  float* y = out + static_cast<size_t>(row) * C;
  // Two passes, like the CPU version: the mean first, then the squared deviations from it (the
  // second read hits the L1/L2 cache). E[x^2] - E[x]^2 in one pass would cancel badly.
  float sum = 0.0f;
  for (int c = lane; c < C; c += kWarpSize) sum += x[c];
  const float m = warp_sum(sum) / C;
  float sq = 0.0f;
  for (int c = lane; c < C; c += kWarpSize) {
    const float d = x[c] - m;
    sq += d * d;
  }
  const float v = warp_sum(sq) / C;
  const float s = 1.0f / sqrtf(v + eps);  // IEEE sqrt and division (we never use --use_fast_math)
  for (int c = lane; c < C; c += kWarpSize) y[c] = (x[c] - m) * s * weight[c] + bias[c];
  if (lane == 0) {
    mean[row] = m;
    rstd[row] = s;
  }
}

// dinp, one warp per row: dx_c += rstd (g_c - mean(g) - xhat_c mean(g xhat)), g = dout * weight.
__global__ void layernorm_backward_dinp_kernel(float* dinp, const float* dout, const float* inp,
                                               const float* weight, const float* mean, const float* rstd,
                                               int N, int C) {
  const int row = blockIdx.x * kRowsPerBlock + threadIdx.x / kWarpSize;
  const int lane = threadIdx.x % kWarpSize;
  if (row >= N) return;
  const size_t off = static_cast<size_t>(row) * C;
  const float m = mean[row], s = rstd[row];
  float g_sum = 0.0f, gx_sum = 0.0f;
  for (int c = lane; c < C; c += kWarpSize) {
    const float xhat = (inp[off + c] - m) * s;
    const float g = dout[off + c] * weight[c];
    g_sum += g;
    gx_sum += g * xhat;
  }
  const float g_mean = warp_sum(g_sum) / C;
  const float gx_mean = warp_sum(gx_sum) / C;
  for (int c = lane; c < C; c += kWarpSize) {
    const float xhat = (inp[off + c] - m) * s;
    const float g = dout[off + c] * weight[c];
    dinp[off + c] += s * (g - g_mean - xhat * gx_mean);
  }
}

// dweight and dbias, stage 1 (see reduce.cu for the two-stage scheme): grid (ceil(C/256), chunks);
// partial[0, chunk, c] = sum of dout * xhat, partial[1, chunk, c] = sum of dout over the chunk.
__global__ void layernorm_backward_params_partial_kernel(float* partial, const float* dout, const float* inp,
                                                         const float* mean, const float* rstd, int N, int C) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  const int chunk = blockIdx.y, chunks = gridDim.y;
  const int rows_per_chunk = (N + chunks - 1) / chunks;
  const int begin = chunk * rows_per_chunk;
  const int end = min(N, begin + rows_per_chunk);
  float dw = 0.0f, db = 0.0f;
  for (int r = begin; r < end; ++r) {
    const size_t i = static_cast<size_t>(r) * C + c;
    const float xhat = (inp[i] - mean[r]) * rstd[r];
    dw += dout[i] * xhat;
    db += dout[i];
  }
  partial[static_cast<size_t>(chunk) * C + c] = dw;
  partial[(static_cast<size_t>(chunks) + chunk) * C + c] = db;
}

}  // namespace

void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, int N, int C, float eps) {
  if (N == 0) return;
  layernorm_forward_kernel<<<blocks_for(N, kRowsPerBlock), kBlock>>>(out, mean, rstd, inp, weight, bias, N, C,
                                                                     eps);
  GPT2_CUDA_CHECK_LAUNCH("layernorm_forward_kernel");
}

void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, int N, int C,
                        float* scratch) {
  if (N == 0) return;
  layernorm_backward_dinp_kernel<<<blocks_for(N, kRowsPerBlock), kBlock>>>(dinp, dout, inp, weight, mean,
                                                                           rstd, N, C);
  GPT2_CUDA_CHECK_LAUNCH("layernorm_backward_dinp_kernel");
  layernorm_backward_params_partial_kernel<<<dim3(blocks_for(C, 256), kReduceChunks), 256>>>(
      scratch, dout, inp, mean, rstd, N, C);
  GPT2_CUDA_CHECK_LAUNCH("layernorm_backward_params_partial_kernel");
  sum_chunks_add(dweight, scratch, kReduceChunks, C);
  sum_chunks_add(dbias, scratch + static_cast<size_t>(kReduceChunks) * C, kReduceChunks, C);
}

}  // namespace gpt2::cuda
