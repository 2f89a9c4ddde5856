#include "chapters/08_cpu_parallel/adamw_fast.h"

#include <algorithm>
#include <cmath>

#include "chapters/08_cpu_parallel/simd.h"

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
// No fused multiply-add may appear here: a fused p - a * b rounds once where the scalar loop
// rounds twice. GCC contracts a * b + c into an FMA whenever the target has one, so this file is
// compiled with -ffp-contract=off (CMakeLists.txt); the AVX2 version also leaves "fma" out of its
// target, AVX-512 cannot (its FMA instructions are part of AVX-512F).
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

// The same with 16 lanes, the last n mod 16 elements in one masked step.
GPT2_TARGET_AVX512 void adamw_range_avx512(float* param, const float* grad, float* m, float* v, size_t n,
                                           const AdamWScalars& k) {
  const __m512 beta1 = _mm512_set1_ps(k.beta1), beta2 = _mm512_set1_ps(k.beta2), eps = _mm512_set1_ps(k.eps);
  const __m512 decay = _mm512_set1_ps(k.decay_factor), omb1 = _mm512_set1_ps(k.one_minus_beta1);
  const __m512 omb2 = _mm512_set1_ps(k.one_minus_beta2), step_size = _mm512_set1_ps(k.step_size);
  const __m512 bc2 = _mm512_set1_ps(k.bias_correction2_sqrt);
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 t = first_lanes(static_cast<int>(std::min<size_t>(16, n - i)));
    const __m512 g = _mm512_maskz_loadu_ps(t, grad + i);
    const __m512 p = _mm512_mul_ps(_mm512_maskz_loadu_ps(t, param + i), decay);
    const __m512 mi =
        _mm512_add_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(t, m + i), beta1), _mm512_mul_ps(omb1, g));
    const __m512 vi = _mm512_add_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(t, v + i), beta2),
                                    _mm512_mul_ps(omb2, _mm512_mul_ps(g, g)));
    const __m512 denom = _mm512_add_ps(_mm512_div_ps(_mm512_sqrt_ps(vi), bc2), eps);
    _mm512_mask_storeu_ps(m + i, t, mi);
    _mm512_mask_storeu_ps(v + i, t, vi);
    _mm512_mask_storeu_ps(param + i, t, _mm512_sub_ps(p, _mm512_mul_ps(step_size, _mm512_div_ps(mi, denom))));
  }
}
#endif

}  // namespace

void adamw_update_fast(float* param, const float* grad, float* m, float* v, size_t n, int64_t step, float lr,
                       float beta1, float beta2, float eps, float weight_decay) {
  const AdamWScalars k = adamw_scalars(step, lr, beta1, beta2, eps, weight_decay);
  const Simd simd = active_simd();
  constexpr size_t kChunk = 1 << 16;  // elements per work item (256 KB of each array)
  const long long chunks = static_cast<long long>((n + kChunk - 1) / kChunk);
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (long long ch = 0; ch < chunks; ++ch) {
    const size_t i0 = static_cast<size_t>(ch) * kChunk, len = std::min(kChunk, n - i0);
#ifdef GPT2_X86
    if (simd == Simd::avx512) {
      adamw_range_avx512(param + i0, grad + i0, m + i0, v + i0, len, k);
      continue;
    }
    if (simd == Simd::avx2_fma) {
      adamw_range_avx2(param + i0, grad + i0, m + i0, v + i0, len, k);
      continue;
    }
#else
    (void)simd;
#endif
    adamw_range_plain(param + i0, grad + i0, m + i0, v + i0, len, k);
  }
}

}  // namespace gpt2
