// Element-wise kernels: GELU, the residual add, zeroing, scaling. CPU reference:
// chapters/04_transformer_block/gelu.h and residual.h.
//
// One thread per element, grid-stride loops: thread i handles i, i + stride, i + 2 stride, ...
// so any grid size covers any n. Neighbouring threads touch neighbouring floats (coalesced).
// These kernels do one or two flops per 8 to 12 bytes moved: their speed is the memory
// bandwidth's, and there is nothing more to gain inside them, only by fusing them into others.

#include "chapters/09_cuda/cuda_common.cuh"
#include "chapters/09_cuda/kernels.h"

namespace gpt2::cuda {

namespace {

constexpr float kSqrt2OverPi = static_cast<float>(0.7978845608028654);  // sqrt(2/pi), as gelu.h rounds it

unsigned int grid_for(size_t n) {
  const size_t blocks = (n + 255) / 256;
  return static_cast<unsigned int>(blocks < 65535 * 16 ? blocks : 65535 * 16);  // grid-stride covers the rest
}

__global__ void gelu_forward_kernel(float* out, const float* inp, size_t n) {
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const float x = inp[i];
    const float u = kSqrt2OverPi * (x + 0.044715f * x * x * x);
    out[i] = 0.5f * x * (1.0f + tanhf(u));
  }
}

__global__ void gelu_backward_kernel(float* dinp, const float* inp, const float* dout, size_t n) {
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const float x = inp[i];
    const float u = kSqrt2OverPi * (x + 0.044715f * x * x * x);
    const float th = tanhf(u);
    const float du_dx = kSqrt2OverPi * (1.0f + 3.0f * 0.044715f * x * x);
    dinp[i] += (0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * du_dx) * dout[i];
  }
}

__global__ void residual_forward_kernel(float* out, const float* a, const float* b, size_t n) {
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x)
    out[i] = a[i] + b[i];
}

__global__ void residual_backward_kernel(float* da, float* db, const float* dout, size_t n) {
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    da[i] += dout[i];
    db[i] += dout[i];
  }
}

__global__ void fill_zero_kernel(float* p, size_t n) {
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x)
    p[i] = 0.0f;
}

// p[i] *= s: one rounded multiply, as chapter 06's scale_grads.
__global__ void scale_kernel(float* p, size_t n, float s) {
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x)
    p[i] *= s;
}

}  // namespace

void gelu_forward(float* out, const float* inp, size_t n) {
  if (n == 0) return;
  gelu_forward_kernel<<<grid_for(n), 256>>>(out, inp, n);
  GPT2_CUDA_CHECK_LAUNCH("gelu_forward_kernel");
}

void gelu_backward(float* dinp, const float* inp, const float* dout, size_t n) {
  if (n == 0) return;
  gelu_backward_kernel<<<grid_for(n), 256>>>(dinp, inp, dout, n);
  GPT2_CUDA_CHECK_LAUNCH("gelu_backward_kernel");
}

void residual_forward(float* out, const float* a, const float* b, size_t n) {
  if (n == 0) return;
  residual_forward_kernel<<<grid_for(n), 256>>>(out, a, b, n);
  GPT2_CUDA_CHECK_LAUNCH("residual_forward_kernel");
}

void residual_backward(float* da, float* db, const float* dout, size_t n) {
  if (n == 0) return;
  residual_backward_kernel<<<grid_for(n), 256>>>(da, db, dout, n);
  GPT2_CUDA_CHECK_LAUNCH("residual_backward_kernel");
}

void fill_zero(float* p, size_t n) {
  if (n == 0) return;
  fill_zero_kernel<<<grid_for(n), 256>>>(p, n);
  GPT2_CUDA_CHECK_LAUNCH("fill_zero_kernel");
}

void scale(float* p, size_t n, float s) {
  if (n == 0) return;
  scale_kernel<<<grid_for(n), 256>>>(p, n, s);
  GPT2_CUDA_CHECK_LAUNCH("scale_kernel");
}

}  // namespace gpt2::cuda
