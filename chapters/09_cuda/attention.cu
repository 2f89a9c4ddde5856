// The non-matrix-multiply pieces of the model's attention: moving q, k, v into heads and back,
// and the causal softmax forward and backward. The two matrix products per head (Q K^T and P V)
// run as batched cuBLAS calls (cublas_ops.cpp); CudaBackend::attention_forward strings them
// together. CPU reference: chapters/04_transformer_block/multihead_attention.h and
// chapters/03_attention/attention.h.
#include "chapters/09_cuda/cuda_common.cuh"
#include "chapters/09_cuda/kernels.h"

namespace gpt2::cuda {

namespace {

// Where element idx of heads (parts, B, NH, T, HS) lives in x (B, T, parts C): chapter 04's
// qkvh[w, b, h, t, i] = qkv[b, t, w C + h HS + i].
__device__ size_t head_to_x_index(size_t idx, int parts, int B, int T, int C, int NH) {
  const int HS = C / NH;
  size_t rest = idx;
  const int i = static_cast<int>(rest % HS);
  rest /= HS;
  const int t = static_cast<int>(rest % T);
  rest /= T;
  const int h = static_cast<int>(rest % NH);
  rest /= NH;
  const int b = static_cast<int>(rest % B);
  const int w = static_cast<int>(rest / B);
  return (static_cast<size_t>(b) * T + t) * parts * C + static_cast<size_t>(w) * C + h * HS + i;
}

// One thread per element of heads, in its order, so consecutive threads write consecutive
// floats and read runs of HS consecutive floats of x.
__global__ void split_heads_kernel(float* heads, const float* x, int parts, int B, int T, int C, int NH) {
  const size_t idx = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= static_cast<size_t>(parts) * B * T * C) return;
  heads[idx] = x[head_to_x_index(idx, parts, B, T, C, NH)];
}

// The inverse, adding. Each element of x receives exactly one element of heads: no races.
__global__ void merge_heads_add_kernel(float* x, const float* heads, int parts, int B, int T, int C, int NH) {
  const size_t idx = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= static_cast<size_t>(parts) * B * T * C) return;
  x[head_to_x_index(idx, parts, B, T, C, NH)] += heads[idx];
}

constexpr int kBlock = 256;
constexpr int kRowsPerBlock = kBlock / kWarpSize;

// One warp per row (bh, t) of att. The row holds the scaled scores; entries s <= t are visible.
__global__ void causal_softmax_forward_kernel(float* att, int BH, int T) {
  const size_t row = static_cast<size_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarpSize;
  const int lane = threadIdx.x % kWarpSize;
  if (row >= static_cast<size_t>(BH) * T) return;
  const int t = static_cast<int>(row % T);
  float* p = att + row * T;
  float m = -INFINITY;
  for (int s = lane; s <= t; s += kWarpSize) m = fmaxf(m, p[s]);
  m = warp_max(m);
  float sum = 0.0f;
  for (int s = lane; s <= t; s += kWarpSize) {
    const float e = expf(p[s] - m);
    p[s] = e;
    sum += e;
  }
  const float inv = 1.0f / warp_sum(sum);
  // Each lane rescales the very entries it wrote above (same s), so no synchronisation is needed.
  for (int s = lane; s < T; s += kWarpSize) p[s] = s <= t ? p[s] * inv : 0.0f;
}

// One warp per row: dS_s = P_s (dP_s - sum_s' P_s' dP_s') for s <= t, 0 for the masked future.
__global__ void causal_softmax_backward_kernel(float* datt, const float* att, int BH, int T) {
  const size_t row = static_cast<size_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarpSize;
  const int lane = threadIdx.x % kWarpSize;
  if (row >= static_cast<size_t>(BH) * T) return;
  const int t = static_cast<int>(row % T);
  const float* p = att + row * T;
  float* d = datt + row * T;
  float dot = 0.0f;
  for (int s = lane; s <= t; s += kWarpSize) dot += p[s] * d[s];
  dot = warp_sum(dot);
  for (int s = lane; s < T; s += kWarpSize) d[s] = s <= t ? p[s] * (d[s] - dot) : 0.0f;
}

}  // namespace

void split_heads(float* heads, const float* x, int parts, int B, int T, int C, int NH) {
  const size_t n = static_cast<size_t>(parts) * B * T * C;
  if (n == 0) return;
  split_heads_kernel<<<blocks_for(n, 256), 256>>>(heads, x, parts, B, T, C, NH);
  GPT2_CUDA_CHECK_LAUNCH("split_heads_kernel");
}

void merge_heads_add(float* x, const float* heads, int parts, int B, int T, int C, int NH) {
  const size_t n = static_cast<size_t>(parts) * B * T * C;
  if (n == 0) return;
  merge_heads_add_kernel<<<blocks_for(n, 256), 256>>>(x, heads, parts, B, T, C, NH);
  GPT2_CUDA_CHECK_LAUNCH("merge_heads_add_kernel");
}

void causal_softmax_forward(float* att, int BH, int T) {
  const size_t rows = static_cast<size_t>(BH) * T;
  if (rows == 0) return;
  causal_softmax_forward_kernel<<<blocks_for(rows, kRowsPerBlock), kBlock>>>(att, BH, T);
  GPT2_CUDA_CHECK_LAUNCH("causal_softmax_forward_kernel");
}

void causal_softmax_backward(float* datt, const float* att, int BH, int T) {
  const size_t rows = static_cast<size_t>(BH) * T;
  if (rows == 0) return;
  causal_softmax_backward_kernel<<<blocks_for(rows, kRowsPerBlock), kBlock>>>(datt, att, BH, T);
  GPT2_CUDA_CHECK_LAUNCH("causal_softmax_backward_kernel");
}

}  // namespace gpt2::cuda
