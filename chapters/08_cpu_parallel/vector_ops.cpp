#include "chapters/08_cpu_parallel/vector_ops.h"

#include <cmath>
#include <cstddef>
#include <numbers>

#include "chapters/04_transformer_block/gelu.h"
#include "chapters/08_cpu_parallel/simd.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define GPT2_X86 1
#endif

namespace gpt2 {
namespace {

#ifdef GPT2_X86
// Adds the 8 lanes of v: (0+4, 1+5, 2+6, 3+7), then pairs, then the last two.
__attribute__((target("avx2,fma"))) float horizontal_sum(__m256 v) {
  const __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
  __m128 s = _mm_add_ps(lo, hi);
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"))) float dot_avx2(const float* a, const float* b, int n) {
  __m256 acc = _mm256_setzero_ps();
  int i = 0;
  for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
  float sum = horizontal_sum(acc);
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

__attribute__((target("avx2,fma"))) void dots_avx2(float* out, const float* x, const float* rows, int n,
                                                   int len) {
  for (int s = 0; s < n; ++s) out[s] = dot_avx2(x, rows + static_cast<size_t>(s) * len, len);
}

__attribute__((target("avx2,fma"))) void axpy_avx2(float* y, float alpha, const float* x, int n);

__attribute__((target("avx2,fma"))) void add_weighted_rows_avx2(float* y, const float* w, const float* rows,
                                                                int n, int len) {
  for (int s = 0; s < n; ++s) axpy_avx2(y, w[s], rows + static_cast<size_t>(s) * len, len);
}

__attribute__((target("avx2,fma"))) void add_outer_avx2(float* rows, const float* w, const float* x, int n,
                                                        int len) {
  for (int s = 0; s < n; ++s) axpy_avx2(rows + static_cast<size_t>(s) * len, w[s], x, len);
}

__attribute__((target("avx2,fma"))) void axpy_avx2(float* y, float alpha, const float* x, int n) {
  const __m256 va = _mm256_set1_ps(alpha);
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  }
  for (; i < n; ++i) y[i] += alpha * x[i];
}

// exp(x) for x <= 0, 8 at a time (Cephes' expf): write x = n ln2 + r with |r| <= ln2 / 2, so
// exp(x) = 2^n exp(r); ln 2 is split in two constants so that n ln2 is subtracted exactly; exp(r)
// is a degree-7 polynomial accurate to about 1 ulp; 2^n is built in the exponent bits. Inputs
// below -87 are clamped (exp(-87) ~ 1.6e-38 is the smallest normal float we build this way).
__attribute__((target("avx2,fma"))) __m256 exp_nonpositive_avx2(__m256 x) {
  x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

// tanh(u) = sign(u) (1 - e) / (1 + e) with e = exp(-2|u|) in (0, 1]: no overflow for any u. Near
// u = 0 the subtraction 1 - e loses relative accuracy (the absolute error stays about 1e-7), which
// GELU does not notice: it uses 1 + tanh(u).
__attribute__((target("avx2,fma"))) __m256 tanh_avx2(__m256 u) {
  const __m256 sign_mask = _mm256_set1_ps(-0.0f);
  const __m256 abs_u = _mm256_andnot_ps(sign_mask, u);
  const __m256 e = exp_nonpositive_avx2(_mm256_mul_ps(abs_u, _mm256_set1_ps(-2.0f)));
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 t = _mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e));
  return _mm256_or_ps(t, _mm256_and_ps(u, sign_mask));  // copy the sign of u
}

constexpr float kGeluK = 0.7978845608028654f;  // sqrt(2 / pi)
constexpr float kGeluC = 0.044715f;

__attribute__((target("avx2,fma"))) void gelu_forward_avx2(float* out, const float* inp, int n) {
  const __m256 k = _mm256_set1_ps(kGeluK), c = _mm256_set1_ps(kGeluC), half = _mm256_set1_ps(0.5f);
  const __m256 one = _mm256_set1_ps(1.0f);
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 x = _mm256_loadu_ps(inp + i);
    const __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
    const __m256 u = _mm256_mul_ps(k, _mm256_fmadd_ps(c, x3, x));
    const __m256 th = tanh_avx2(u);
    _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(half, x), _mm256_add_ps(one, th)));
  }
  if (i < n) gelu_forward(out + i, inp + i, n - i);
}

__attribute__((target("avx2,fma"))) void gelu_backward_avx2(float* dinp, const float* inp, const float* dout,
                                                            int n) {
  const __m256 k = _mm256_set1_ps(kGeluK), c = _mm256_set1_ps(kGeluC), c3 = _mm256_set1_ps(3.0f * kGeluC);
  const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 x = _mm256_loadu_ps(inp + i);
    const __m256 x2 = _mm256_mul_ps(x, x);
    const __m256 u = _mm256_mul_ps(k, _mm256_fmadd_ps(c, _mm256_mul_ps(x2, x), x));
    const __m256 th = tanh_avx2(u);
    const __m256 du_dx = _mm256_mul_ps(k, _mm256_fmadd_ps(c3, x2, one));
    const __m256 sech2 = _mm256_fnmadd_ps(th, th, one);  // 1 - tanh^2
    // grad = 0.5 (1 + th) + 0.5 x sech2 du_dx
    const __m256 grad = _mm256_fmadd_ps(_mm256_mul_ps(half, x), _mm256_mul_ps(sech2, du_dx),
                                        _mm256_mul_ps(half, _mm256_add_ps(one, th)));
    _mm256_storeu_ps(dinp + i, _mm256_fmadd_ps(grad, _mm256_loadu_ps(dout + i), _mm256_loadu_ps(dinp + i)));
  }
  if (i < n) gelu_backward(dinp + i, inp + i, dout + i, n - i);
}

__attribute__((target("avx2,fma"))) float max_avx2(const float* x, int n) {
  float m = x[0];
  int i = 0;
  if (n >= 8) {
    __m256 vm = _mm256_loadu_ps(x);
    for (i = 8; i + 8 <= n; i += 8) vm = _mm256_max_ps(vm, _mm256_loadu_ps(x + i));
    float l[8];
    _mm256_storeu_ps(l, vm);
    for (float v : l) m = v > m ? v : m;
  }
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

__attribute__((target("avx2,fma"))) float sum_exp_shifted_avx2(const float* x, float shift, int n) {
  const __m256 vs = _mm256_set1_ps(shift);
  __m256 acc = _mm256_setzero_ps();
  int i = 0;
  for (; i + 8 <= n; i += 8)
    acc = _mm256_add_ps(acc, exp_nonpositive_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i), vs)));
  float sum = horizontal_sum(acc);
  for (; i < n; ++i) sum += std::exp(x[i] - shift);
  return sum;
}

__attribute__((target("avx2,fma"))) void add_scaled_exp_shifted_avx2(float* y, float alpha, const float* x,
                                                                     float shift, int n) {
  const __m256 vs = _mm256_set1_ps(shift), va = _mm256_set1_ps(alpha);
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 e = exp_nonpositive_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i), vs));
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, e, _mm256_loadu_ps(y + i)));
  }
  for (; i < n; ++i) y[i] += alpha * std::exp(x[i] - shift);
}
#endif

}  // namespace

float max_of(const float* x, int n) {
#ifdef GPT2_X86
  if (active_simd() == Simd::avx2_fma) return max_avx2(x, n);
#endif
  float m = x[0];
  for (int i = 1; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

float sum_exp_shifted(const float* x, float shift, int n) {
#ifdef GPT2_X86
  if (active_simd() == Simd::avx2_fma) return sum_exp_shifted_avx2(x, shift, n);
#endif
  float sum = 0.0f;
  for (int i = 0; i < n; ++i) sum += std::exp(x[i] - shift);
  return sum;
}

void add_scaled_exp_shifted(float* y, float alpha, const float* x, float shift, int n) {
#ifdef GPT2_X86
  if (active_simd() == Simd::avx2_fma) return add_scaled_exp_shifted_avx2(y, alpha, x, shift, n);
#endif
  for (int i = 0; i < n; ++i) y[i] += alpha * std::exp(x[i] - shift);
}

float dot(const float* a, const float* b, int n) {
#ifdef GPT2_X86
  if (active_simd() == Simd::avx2_fma) return dot_avx2(a, b, n);
#endif
  float sum = 0.0f;
  for (int i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

void axpy(float* y, float alpha, const float* x, int n) {
#ifdef GPT2_X86
  if (active_simd() == Simd::avx2_fma) return axpy_avx2(y, alpha, x, n);
#endif
  for (int i = 0; i < n; ++i) y[i] += alpha * x[i];
}

void dots(float* out, const float* x, const float* rows, int n, int len) {
#ifdef GPT2_X86
  if (active_simd() == Simd::avx2_fma) return dots_avx2(out, x, rows, n, len);
#endif
  for (int s = 0; s < n; ++s) out[s] = dot(x, rows + static_cast<size_t>(s) * len, len);
}

void add_weighted_rows(float* y, const float* w, const float* rows, int n, int len) {
#ifdef GPT2_X86
  if (active_simd() == Simd::avx2_fma) return add_weighted_rows_avx2(y, w, rows, n, len);
#endif
  for (int s = 0; s < n; ++s) axpy(y, w[s], rows + static_cast<size_t>(s) * len, len);
}

void add_outer(float* rows, const float* w, const float* x, int n, int len) {
#ifdef GPT2_X86
  if (active_simd() == Simd::avx2_fma) return add_outer_avx2(rows, w, x, n, len);
#endif
  for (int s = 0; s < n; ++s) axpy(rows + static_cast<size_t>(s) * len, w[s], x, len);
}

void gelu_forward_range(float* out, const float* inp, int n) {
#ifdef GPT2_X86
  if (active_simd() == Simd::avx2_fma) return gelu_forward_avx2(out, inp, n);
#endif
  gelu_forward(out, inp, n);
}

void gelu_backward_range(float* dinp, const float* inp, const float* dout, int n) {
#ifdef GPT2_X86
  if (active_simd() == Simd::avx2_fma) return gelu_backward_avx2(dinp, inp, dout, n);
#endif
  gelu_backward(dinp, inp, dout, n);
}

}  // namespace gpt2
