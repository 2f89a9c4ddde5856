#include "chapters/08_cpu_parallel/adamw_fast.h"

#include <algorithm>
#include <cmath>

#include "chapters/08_cpu_parallel/simd.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define GPT2_X86 1
#endif

namespace gpt2 {
namespace {

// The scalars of one step, computed as chapter 06 computes them (in double, then rounded).
struct AdamWScalars {
  float beta1, beta2, eps, decay_factor, one_minus_beta1, one_minus_beta2, step_size, bias_correction2_sqrt;
};

AdamWScalars adamw_scalars(int64_t step, float lr, float beta1, float beta2, float eps, float weight_decay) {
  const double bias_correction1 = 1.0 - std::pow(static_cast<double>(beta1), static_cast<double>(step));
  const double bias_correction2 = 1.0 - std::pow(static_cast<double>(beta2), static_cast<double>(step));
  return {beta1,
          beta2,
          eps,
          static_cast<float>(1.0 - static_cast<double>(lr) * weight_decay),
          static_cast<float>(1.0 - beta1),
          static_cast<float>(1.0 - beta2),
          static_cast<float>(lr / bias_correction1),
          static_cast<float>(std::sqrt(bias_correction2))};
}

// The plain element update, in chapter 06's order of operations.
void adamw_range_plain(float* param, const float* grad, float* m, float* v, size_t n, const AdamWScalars& k) {
  for (size_t i = 0; i < n; ++i) {
    const float g = grad[i];
    const float p = param[i] * k.decay_factor;
    m[i] = m[i] * k.beta1 + k.one_minus_beta1 * g;
    v[i] = v[i] * k.beta2 + k.one_minus_beta2 * (g * g);
    const float denom = std::sqrt(v[i]) / k.bias_correction2_sqrt + k.eps;
    param[i] = p - k.step_size * (m[i] / denom);
  }
}

#ifdef GPT2_X86
// target("avx2") without "fma": the compiler may not fuse a multiply and an add here, which keeps
// the rounding identical to the scalar loop.
__attribute__((target("avx2"))) void adamw_range_avx2(float* param, const float* grad, float* m, float* v,
                                                      size_t n, const AdamWScalars& k) {
  const __m256 beta1 = _mm256_set1_ps(k.beta1), beta2 = _mm256_set1_ps(k.beta2), eps = _mm256_set1_ps(k.eps);
  const __m256 decay = _mm256_set1_ps(k.decay_factor), omb1 = _mm256_set1_ps(k.one_minus_beta1);
  const __m256 omb2 = _mm256_set1_ps(k.one_minus_beta2), step_size = _mm256_set1_ps(k.step_size);
  const __m256 bc2 = _mm256_set1_ps(k.bias_correction2_sqrt);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(grad + i);
    const __m256 p = _mm256_mul_ps(_mm256_loadu_ps(param + i), decay);
    const __m256 mi = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(m + i), beta1), _mm256_mul_ps(omb1, g));
    const __m256 vi =
        _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(v + i), beta2), _mm256_mul_ps(omb2, _mm256_mul_ps(g, g)));
    const __m256 denom = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vi), bc2), eps);
    _mm256_storeu_ps(m + i, mi);
    _mm256_storeu_ps(v + i, vi);
    _mm256_storeu_ps(param + i, _mm256_sub_ps(p, _mm256_mul_ps(step_size, _mm256_div_ps(mi, denom))));
  }
  adamw_range_plain(param + i, grad + i, m + i, v + i, n - i, k);
}
#endif

}  // namespace

void adamw_update_fast(float* param, const float* grad, float* m, float* v, size_t n, int64_t step, float lr,
                       float beta1, float beta2, float eps, float weight_decay) {
  const AdamWScalars k = adamw_scalars(step, lr, beta1, beta2, eps, weight_decay);
  const bool avx2 = active_simd() == Simd::avx2_fma;
  constexpr size_t kChunk = 1 << 16;  // elements per work item (256 KB of each array)
  const long long chunks = static_cast<long long>((n + kChunk - 1) / kChunk);
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (long long ch = 0; ch < chunks; ++ch) {
    const size_t i0 = static_cast<size_t>(ch) * kChunk, len = std::min(kChunk, n - i0);
#ifdef GPT2_X86
    if (avx2) {
      adamw_range_avx2(param + i0, grad + i0, m + i0, v + i0, len, k);
      continue;
    }
#else
    (void)avx2;
#endif
    adamw_range_plain(param + i0, grad + i0, m + i0, v + i0, len, k);
  }
}

}  // namespace gpt2
