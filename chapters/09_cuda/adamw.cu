// AdamW on the GPU. CPU reference: chapters/06_training/adamw.cpp (adamw_update).
//
// Every element is independent: one thread per parameter. The interesting part is exactness.
// nvcc contracts a * b + c into one fused multiply-add by default (one rounding instead of two),
// which the CPU build does not do; the tiny differences would make the GPU's training run drift
// from the CPU's. The __fmul_rn / __fadd_rn / __fdiv_rn / __fsqrt_rn intrinsics are the IEEE
// operations, each rounded once and never contracted, so this kernel computes exactly what the
// CPU loop computes, bit for bit.
#include <cmath>

#include "chapters/09_cuda/cuda_common.cuh"
#include "chapters/09_cuda/kernels.h"

namespace gpt2::cuda {

namespace {

struct AdamWScalars {
  float decay_factor, beta1, beta2, one_minus_beta1, one_minus_beta2, step_size, bias_correction2_sqrt, eps;
};

__global__ void adamw_kernel(float* param, const float* grad, float* m, float* v, size_t n, AdamWScalars s) {
  const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float g = grad[i];
  const float p = __fmul_rn(param[i], s.decay_factor);                                    // weight decay
  const float mi = __fadd_rn(__fmul_rn(m[i], s.beta1), __fmul_rn(s.one_minus_beta1, g));  // first moment
  const float vi = __fadd_rn(__fmul_rn(v[i], s.beta2), __fmul_rn(s.one_minus_beta2, __fmul_rn(g, g)));
  const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), s.bias_correction2_sqrt), s.eps);  // sqrt(v^) + eps
  m[i] = mi;
  v[i] = vi;
  param[i] = __fsub_rn(p, __fmul_rn(s.step_size, __fdiv_rn(mi, denom)));
}

}  // namespace

void adamw_update(float* param, const float* grad, float* m, float* v, size_t n, int64_t step, float lr,
                  float beta1, float beta2, float eps, float weight_decay) {
  if (n == 0) return;
  // The scalars exactly as adamw.cpp computes them: in double on the host, then rounded to float.
  const double bias_correction1 = 1.0 - std::pow(static_cast<double>(beta1), static_cast<double>(step));
  const double bias_correction2 = 1.0 - std::pow(static_cast<double>(beta2), static_cast<double>(step));
  AdamWScalars s{};
  s.decay_factor = static_cast<float>(1.0 - static_cast<double>(lr) * weight_decay);
  s.beta1 = beta1;
  s.beta2 = beta2;
  s.one_minus_beta1 = static_cast<float>(1.0 - beta1);
  s.one_minus_beta2 = static_cast<float>(1.0 - beta2);
  s.step_size = static_cast<float>(lr / bias_correction1);
  s.bias_correction2_sqrt = static_cast<float>(std::sqrt(bias_correction2));
  s.eps = eps;
  adamw_kernel<<<blocks_for(n, 256), 256>>>(param, grad, m, v, n, s);
  GPT2_CUDA_CHECK_LAUNCH("adamw_kernel");
}

}  // namespace gpt2::cuda
