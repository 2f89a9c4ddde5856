// Fused softmax + cross-entropy on the GPU. CPU reference: chapters/05_gpt2_model/cross_entropy.h.
//
// One block of 256 threads per row of V logits (V = 50257 for GPT-2): each thread strides over
// the row (coalesced), the block reduces the maximum and then the sum of exp(z - max) through
// shared memory (cuda_common.cuh), and thread 0 writes lse and the loss. The backward recomputes
// the probabilities from the logits and lse, so no (N, V) probability tensor is ever stored.
#include "chapters/09_cuda/cuda_common.cuh"
#include "chapters/09_cuda/kernels.h"

namespace gpt2::cuda {

namespace {

constexpr int kBlock = 256;

__global__ void cross_entropy_forward_kernel(float* losses, float* lse, const float* logits,
                                             const int* targets, int V) {
  __shared__ float shared[kWarpSize];
  const int row = blockIdx.x;
  const float* z = logits + static_cast<size_t>(row) * V;
  float m = -INFINITY;
  for (int v = threadIdx.x; v < V; v += blockDim.x) m = fmaxf(m, z[v]);
  m = block_max(m, shared);
  float sum = 0.0f;
  for (int v = threadIdx.x; v < V; v += blockDim.x) sum += expf(z[v] - m);
  sum = block_sum(sum, shared);
  if (threadIdx.x == 0) {
    const float l = m + logf(sum);
    lse[row] = l;
    const int y = targets[row];
    losses[row] = y < 0 ? 0.0f : l - z[y];
  }
}

__global__ void cross_entropy_backward_kernel(float* dlogits, const float* logits, const float* lse,
                                              const int* targets, float dloss, int V) {
  const int row = blockIdx.x;
  const int y = targets[row];
  if (y < 0) return;  // no target: no gradient (the whole block leaves)
  const float* z = logits + static_cast<size_t>(row) * V;
  float* dz = dlogits + static_cast<size_t>(row) * V;
  const float l = lse[row];
  for (int v = threadIdx.x; v < V; v += blockDim.x) {
    const float p = expf(z[v] - l);
    dz[v] += dloss * (p - (v == y ? 1.0f : 0.0f));
  }
}

}  // namespace

void cross_entropy_forward(float* losses, float* lse, const float* logits, const int* targets, int N, int V) {
  if (N == 0) return;
  cross_entropy_forward_kernel<<<N, kBlock>>>(losses, lse, logits, targets, V);
  GPT2_CUDA_CHECK_LAUNCH("cross_entropy_forward_kernel");
}

void cross_entropy_backward(float* dlogits, const float* logits, const float* lse, const int* targets,
                            float dloss, int N, int V) {
  if (N == 0) return;
  cross_entropy_backward_kernel<<<N, kBlock>>>(dlogits, logits, lse, targets, dloss, V);
  GPT2_CUDA_CHECK_LAUNCH("cross_entropy_backward_kernel");
}

}  // namespace gpt2::cuda
