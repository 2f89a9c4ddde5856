// Dropout on the GPU. CPU reference: chapters/05_gpt2_model/dropout.h.
//
// Element i of the dropout site with key k is kept when Rng(k + i).uniform() >= p, with
// common/rng.h's generator written out below for the device: one step of SplitMix64 seeds it,
// one step of xorshift64* and its top 24 bits make the uniform number. The integer steps are
// exact, so the GPU keeps exactly the elements the CPU keeps, and a mask never needs storing: the
// backward pass recomputes it from the key. One thread per element, grid-stride loops.
#include "chapters/09_cuda/cuda_common.cuh"
#include "chapters/09_cuda/kernels.h"

namespace gpt2::cuda {

namespace {

__device__ bool keep_element(uint64_t key, size_t i, float p) {
  uint64_t z = key + static_cast<uint64_t>(i) + 0x9E3779B97F4A7C15ull;  // Rng(key + i): SplitMix64
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  uint64_t s = (z ^ (z >> 31)) | 1;
  s ^= s >> 12;  // next_u32(): xorshift64*
  s ^= s << 25;
  s ^= s >> 27;
  const uint32_t r = static_cast<uint32_t>((s * 0x2545F4914F6CDD1Dull) >> 32);
  const float u = static_cast<float>(r >> 8) * (1.0f / 16777216.0f);  // uniform(): the top 24 bits
  return u >= p;
}

unsigned int grid_for(size_t n) {
  const size_t blocks = (n + 255) / 256;
  return static_cast<unsigned int>(blocks < 65535 * 16 ? blocks : 65535 * 16);
}

__global__ void dropout_forward_kernel(float* out, const float* inp, size_t n, float p, float scale,
                                       uint64_t key) {
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x)
    out[i] = keep_element(key, i, p) ? inp[i] * scale : 0.0f;
}

__global__ void dropout_backward_kernel(float* dinp, const float* dout, size_t n, float p, float scale,
                                        uint64_t key) {
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x)
    if (keep_element(key, i, p)) dinp[i] += dout[i] * scale;
}

}  // namespace

void dropout_forward(float* out, const float* inp, size_t n, float p, uint64_t key) {
  if (n == 0) return;
  const float scale = 1.0f / (1.0f - p);  // as dropout.h rounds it
  dropout_forward_kernel<<<grid_for(n), 256>>>(out, inp, n, p, scale, key);
  GPT2_CUDA_CHECK_LAUNCH("dropout_forward_kernel");
}

void dropout_backward(float* dinp, const float* dout, size_t n, float p, uint64_t key) {
  if (n == 0) return;
  const float scale = 1.0f / (1.0f - p);
  dropout_backward_kernel<<<grid_for(n), 256>>>(dinp, dout, n, p, scale, key);
  GPT2_CUDA_CHECK_LAUNCH("dropout_backward_kernel");
}

}  // namespace gpt2::cuda
