#include "chapters/08_cpu_parallel/vector_ops.h"

#include <cmath>
#include <cstddef>

#include "chapters/04_transformer_block/gelu.h"
#include "chapters/08_cpu_parallel/simd.h"

namespace gpt2 {
namespace {

constexpr float kGeluK = 0.7978845608028654f;  // sqrt(2 / pi)
constexpr float kGeluC = 0.044715f;

// The constants of the vectorised exp (Cephes' expf), shared by the AVX2 and AVX-512 versions.
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;  // ln 2 = kLn2Hi + kLn2Lo
constexpr float kExpP[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                            4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};

#ifdef GPT2_X86
// =============================================================================================
// AVX2 + FMA: 8 floats per register. Loops run over whole registers; the last n mod 8 elements
// go through the scalar code.
// =============================================================================================

GPT2_TARGET_AVX2 float dot_avx2(const float* a, const float* b, int n) {
  __m256 acc = _mm256_setzero_ps();
  int i = 0;
  for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
  float sum = horizontal_sum(acc);
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

GPT2_TARGET_AVX2 void axpy_avx2(float* y, float alpha, const float* x, int n) {
  const __m256 va = _mm256_set1_ps(alpha);
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  }
  for (; i < n; ++i) y[i] += alpha * x[i];
}

// Four rows at a time: four independent chains of multiply-adds, where one dot_avx2 waits for
// each multiply-add before the next. Each row's sum is dot_avx2's, operation for operation.
GPT2_TARGET_AVX2 void dots_avx2(float* out, const float* x, const float* rows, int n, int len) {
  int s = 0;
  for (; s + 4 <= n; s += 4) {
    const float* r = rows + static_cast<size_t>(s) * len;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    int i = 0;
    for (; i + 8 <= len; i += 8) {
      const __m256 xi = _mm256_loadu_ps(x + i);
      acc0 = _mm256_fmadd_ps(xi, _mm256_loadu_ps(r + i), acc0);
      acc1 = _mm256_fmadd_ps(xi, _mm256_loadu_ps(r + len + i), acc1);
      acc2 = _mm256_fmadd_ps(xi, _mm256_loadu_ps(r + 2 * len + i), acc2);
      acc3 = _mm256_fmadd_ps(xi, _mm256_loadu_ps(r + 3 * len + i), acc3);
    }
    float sum[4] = {horizontal_sum(acc0), horizontal_sum(acc1), horizontal_sum(acc2), horizontal_sum(acc3)};
    for (int k = 0; k < 4; ++k) {
      for (int j = i; j < len; ++j) sum[k] += x[j] * r[k * len + j];
      out[s + k] = sum[k];
    }
  }
  for (; s < n; ++s) out[s] = dot_avx2(x, rows + static_cast<size_t>(s) * len, len);
}

// y (len) += sum_s w[s ws] rows[s rs ...]. A stretch of y of up to 8 registers (64 floats) is held
// in registers while the n rows are added to it, in order s = 0, 1, ..., with the multiply-add
// axpy_avx2 uses: every element sees the same operations in the same order as n calls of
// axpy_avx2 (the same bits), but costs one load per multiply-add instead of two loads and a store
// (and the store-to-load wait before the next row's addition to the same element).
template <int NV>
GPT2_TARGET_AVX2 void weighted_rows_block_avx2(float* y, const float* w, size_t ws, const float* rows,
                                               size_t rs, int n) {
  __m256 acc[NV];  // registers: the loops over v are unrolled
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) acc[v] = _mm256_loadu_ps(y + 8 * v);
  for (int s = 0; s < n; ++s) {
    const __m256 vw = _mm256_set1_ps(w[s * ws]);
    const float* x = rows + s * rs;
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[v] = _mm256_fmadd_ps(vw, _mm256_loadu_ps(x + 8 * v), acc[v]);
  }
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) _mm256_storeu_ps(y + 8 * v, acc[v]);
}

GPT2_TARGET_AVX2 void add_weighted_rows_avx2(float* y, const float* w, size_t ws, const float* rows,
                                             size_t rs, int n, int len) {
  int i = 0;
  for (; i + 64 <= len; i += 64) weighted_rows_block_avx2<8>(y + i, w, ws, rows + i, rs, n);
  if (i + 32 <= len) weighted_rows_block_avx2<4>(y + i, w, ws, rows + i, rs, n), i += 32;
  if (i + 16 <= len) weighted_rows_block_avx2<2>(y + i, w, ws, rows + i, rs, n), i += 16;
  if (i + 8 <= len) weighted_rows_block_avx2<1>(y + i, w, ws, rows + i, rs, n), i += 8;
  for (; i < len; ++i) {  // axpy_avx2's scalar tail, row after row
    for (int s = 0; s < n; ++s) y[i] += w[s * ws] * rows[s * rs + i];
  }
}

// exp(x) for x <= 0, 8 at a time (Cephes' expf): write x = n ln2 + r with |r| <= ln2 / 2, so
// exp(x) = 2^n exp(r); ln 2 is split in two constants so that n ln2 is subtracted exactly; exp(r)
// is a degree-7 polynomial accurate to about 1 ulp; 2^n is built in the exponent bits. Inputs
// below -87 are clamped (exp(-87) ~ 1.6e-38 is the smallest normal float we build this way).
GPT2_TARGET_AVX2 __m256 exp_nonpositive_avx2(__m256 x) {
  x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), r);
  __m256 p = _mm256_set1_ps(kExpP[0]);
  for (int i = 1; i < 6; ++i) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kExpP[i]));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

// tanh(u) = sign(u) (1 - e) / (1 + e) with e = exp(-2|u|) in (0, 1]: no overflow for any u. Near
// u = 0 the subtraction 1 - e loses relative accuracy (the absolute error stays about 1e-7), which
// GELU does not notice: it uses 1 + tanh(u).
GPT2_TARGET_AVX2 __m256 tanh_avx2(__m256 u) {
  const __m256 sign_mask = _mm256_set1_ps(-0.0f);
  const __m256 abs_u = _mm256_andnot_ps(sign_mask, u);
  const __m256 e = exp_nonpositive_avx2(_mm256_mul_ps(abs_u, _mm256_set1_ps(-2.0f)));
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 t = _mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e));
  return _mm256_or_ps(t, _mm256_and_ps(u, sign_mask));  // copy the sign of u
}

GPT2_TARGET_AVX2 void gelu_forward_avx2(float* out, const float* inp, int n) {
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

GPT2_TARGET_AVX2 void gelu_backward_avx2(float* dinp, const float* inp, const float* dout, int n) {
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

GPT2_TARGET_AVX2 float max_avx2(const float* x, int n) {
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

GPT2_TARGET_AVX2 float sum_exp_shifted_avx2(const float* x, float shift, int n) {
  const __m256 vs = _mm256_set1_ps(shift);
  __m256 acc = _mm256_setzero_ps();
  int i = 0;
  for (; i + 8 <= n; i += 8)
    acc = _mm256_add_ps(acc, exp_nonpositive_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i), vs)));
  float sum = horizontal_sum(acc);
  for (; i < n; ++i) sum += std::exp(x[i] - shift);
  return sum;
}

GPT2_TARGET_AVX2 float exp_shifted_avx2(float* y, const float* x, float shift, int n) {
  const __m256 vs = _mm256_set1_ps(shift);
  __m256 acc = _mm256_setzero_ps();
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 e = exp_nonpositive_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i), vs));
    _mm256_storeu_ps(y + i, e);
    acc = _mm256_add_ps(acc, e);
  }
  float sum = horizontal_sum(acc);
  for (; i < n; ++i) {
    y[i] = std::exp(x[i] - shift);
    sum += y[i];
  }
  return sum;
}

GPT2_TARGET_AVX2 void add_scaled_exp_shifted_avx2(float* y, float alpha, const float* x, float shift, int n) {
  const __m256 vs = _mm256_set1_ps(shift), va = _mm256_set1_ps(alpha);
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 e = exp_nonpositive_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i), vs));
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, e, _mm256_loadu_ps(y + i)));
  }
  for (; i < n; ++i) y[i] += alpha * std::exp(x[i] - shift);
}

// =============================================================================================
// AVX-512: the same kernels with 16 floats per register. What changes from AVX2 is mostly the
// width (_mm256_ -> _mm512_, 8 -> 16); what is new is the tail: instead of a scalar loop over the
// last n mod 16 elements, one more vector step with a mask (first_lanes, simd.h) that loads
// zeros into the lanes past the end and stores nothing there.
// =============================================================================================

GPT2_TARGET_AVX512 float dot_avx512(const float* a, const float* b, int n) {
  __m512 acc = _mm512_setzero_ps();
  int i = 0;
  for (; i + 16 <= n; i += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc);
  if (i < n) {  // masked lanes are 0 * 0: they add nothing
    const __mmask16 m = first_lanes(n - i);
    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc);
  }
  return horizontal_sum(acc);
}

GPT2_TARGET_AVX512 void axpy_avx512(float* y, float alpha, const float* x, int n) {
  const __m512 va = _mm512_set1_ps(alpha);
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
  }
  if (i < n) {
    const __mmask16 m = first_lanes(n - i);
    _mm512_mask_storeu_ps(
        y + i, m, _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
  }
}

// dots_avx2's four chains with 16 lanes; each row's sum is dot_avx512's.
GPT2_TARGET_AVX512 void dots_avx512(float* out, const float* x, const float* rows, int n, int len) {
  int s = 0;
  for (; s + 4 <= n; s += 4) {
    const float* r = rows + static_cast<size_t>(s) * len;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    int i = 0;
    for (; i + 16 <= len; i += 16) {
      const __m512 xi = _mm512_loadu_ps(x + i);
      acc0 = _mm512_fmadd_ps(xi, _mm512_loadu_ps(r + i), acc0);
      acc1 = _mm512_fmadd_ps(xi, _mm512_loadu_ps(r + len + i), acc1);
      acc2 = _mm512_fmadd_ps(xi, _mm512_loadu_ps(r + 2 * len + i), acc2);
      acc3 = _mm512_fmadd_ps(xi, _mm512_loadu_ps(r + 3 * len + i), acc3);
    }
    if (i < len) {  // masked lanes are 0 * 0: they add nothing
      const __mmask16 m = first_lanes(len - i);
      const __m512 xi = _mm512_maskz_loadu_ps(m, x + i);
      acc0 = _mm512_fmadd_ps(xi, _mm512_maskz_loadu_ps(m, r + i), acc0);
      acc1 = _mm512_fmadd_ps(xi, _mm512_maskz_loadu_ps(m, r + len + i), acc1);
      acc2 = _mm512_fmadd_ps(xi, _mm512_maskz_loadu_ps(m, r + 2 * len + i), acc2);
      acc3 = _mm512_fmadd_ps(xi, _mm512_maskz_loadu_ps(m, r + 3 * len + i), acc3);
    }
    out[s] = horizontal_sum(acc0);
    out[s + 1] = horizontal_sum(acc1);
    out[s + 2] = horizontal_sum(acc2);
    out[s + 3] = horizontal_sum(acc3);
  }
  for (; s < n; ++s) out[s] = dot_avx512(x, rows + static_cast<size_t>(s) * len, len);
}

// add_weighted_rows_avx2 with 16 lanes: up to 8 registers (128 floats) of y held while the rows are
// added, then the last len mod 16 elements in one masked register, as axpy_avx512 does them.
template <int NV>
GPT2_TARGET_AVX512 void weighted_rows_block_avx512(float* y, const float* w, size_t ws, const float* rows,
                                                   size_t rs, int n) {
  __m512 acc[NV];  // registers: the loops over v are unrolled
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) acc[v] = _mm512_loadu_ps(y + 16 * v);
  for (int s = 0; s < n; ++s) {
    const __m512 vw = _mm512_set1_ps(w[s * ws]);
    const float* x = rows + s * rs;
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[v] = _mm512_fmadd_ps(vw, _mm512_loadu_ps(x + 16 * v), acc[v]);
  }
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) _mm512_storeu_ps(y + 16 * v, acc[v]);
}

GPT2_TARGET_AVX512 void add_weighted_rows_avx512(float* y, const float* w, size_t ws, const float* rows,
                                                 size_t rs, int n, int len) {
  int i = 0;
  for (; i + 128 <= len; i += 128) weighted_rows_block_avx512<8>(y + i, w, ws, rows + i, rs, n);
  if (i + 64 <= len) weighted_rows_block_avx512<4>(y + i, w, ws, rows + i, rs, n), i += 64;
  if (i + 32 <= len) weighted_rows_block_avx512<2>(y + i, w, ws, rows + i, rs, n), i += 32;
  if (i + 16 <= len) weighted_rows_block_avx512<1>(y + i, w, ws, rows + i, rs, n), i += 16;
  if (i < len) {
    const __mmask16 m = first_lanes(len - i);
    __m512 acc = _mm512_maskz_loadu_ps(m, y + i);
    for (int s = 0; s < n; ++s) {
      acc = _mm512_fmadd_ps(_mm512_set1_ps(w[s * ws]), _mm512_maskz_loadu_ps(m, rows + s * rs + i), acc);
    }
    _mm512_mask_storeu_ps(y + i, m, acc);
  }
}

// exp_nonpositive_avx2 with 16 lanes: the same operations in the same order, so the same bits
// for every element.
GPT2_TARGET_AVX512 __m512 exp_nonpositive_avx512(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(kLog2e)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Hi), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Lo), r);
  __m512 p = _mm512_set1_ps(kExpP[0]);
  for (int i = 1; i < 6; ++i) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kExpP[i]));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  const __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
  return _mm512_mul_ps(p, _mm512_castsi512_ps(bits));
}

GPT2_TARGET_AVX512 __m512 tanh_avx512(__m512 u) {
  const __m512 sign_mask = _mm512_set1_ps(-0.0f);
  const __m512 abs_u = _mm512_andnot_ps(sign_mask, u);
  const __m512 e = exp_nonpositive_avx512(_mm512_mul_ps(abs_u, _mm512_set1_ps(-2.0f)));
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 t = _mm512_div_ps(_mm512_sub_ps(one, e), _mm512_add_ps(one, e));
  return _mm512_or_ps(t, _mm512_and_ps(u, sign_mask));
}

GPT2_TARGET_AVX512 __m512 gelu_avx512(__m512 x) {
  const __m512 x3 = _mm512_mul_ps(_mm512_mul_ps(x, x), x);
  const __m512 u = _mm512_mul_ps(_mm512_set1_ps(kGeluK), _mm512_fmadd_ps(_mm512_set1_ps(kGeluC), x3, x));
  const __m512 th = tanh_avx512(u);
  return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), _mm512_add_ps(_mm512_set1_ps(1.0f), th));
}

GPT2_TARGET_AVX512 void gelu_forward_avx512(float* out, const float* inp, int n) {
  int i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, gelu_avx512(_mm512_loadu_ps(inp + i)));
  if (i < n) {
    const __mmask16 m = first_lanes(n - i);
    _mm512_mask_storeu_ps(out + i, m, gelu_avx512(_mm512_maskz_loadu_ps(m, inp + i)));
  }
}

// GELU'(x), as gelu_backward_avx2 computes it.
GPT2_TARGET_AVX512 __m512 gelu_grad_avx512(__m512 x) {
  const __m512 k = _mm512_set1_ps(kGeluK), half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f);
  const __m512 x2 = _mm512_mul_ps(x, x);
  const __m512 u = _mm512_mul_ps(k, _mm512_fmadd_ps(_mm512_set1_ps(kGeluC), _mm512_mul_ps(x2, x), x));
  const __m512 th = tanh_avx512(u);
  const __m512 du_dx = _mm512_mul_ps(k, _mm512_fmadd_ps(_mm512_set1_ps(3.0f * kGeluC), x2, one));
  const __m512 sech2 = _mm512_fnmadd_ps(th, th, one);
  return _mm512_fmadd_ps(_mm512_mul_ps(half, x), _mm512_mul_ps(sech2, du_dx),
                         _mm512_mul_ps(half, _mm512_add_ps(one, th)));
}

GPT2_TARGET_AVX512 void gelu_backward_avx512(float* dinp, const float* inp, const float* dout, int n) {
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 grad = gelu_grad_avx512(_mm512_loadu_ps(inp + i));
    _mm512_storeu_ps(dinp + i, _mm512_fmadd_ps(grad, _mm512_loadu_ps(dout + i), _mm512_loadu_ps(dinp + i)));
  }
  if (i < n) {
    const __mmask16 m = first_lanes(n - i);
    const __m512 grad = gelu_grad_avx512(_mm512_maskz_loadu_ps(m, inp + i));
    _mm512_mask_storeu_ps(
        dinp + i, m,
        _mm512_fmadd_ps(grad, _mm512_maskz_loadu_ps(m, dout + i), _mm512_maskz_loadu_ps(m, dinp + i)));
  }
}

GPT2_TARGET_AVX512 float max_avx512(const float* x, int n) {
  // Lanes past the end load -infinity, which never wins. The maximum is exact in any order.
  __m512 vm = _mm512_set1_ps(-INFINITY);
  int i = 0;
  for (; i + 16 <= n; i += 16) vm = _mm512_max_ps(vm, _mm512_loadu_ps(x + i));
  if (i < n)
    vm = _mm512_max_ps(vm, _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), first_lanes(n - i), x + i));
  return _mm512_reduce_max_ps(vm);
}

GPT2_TARGET_AVX512 float sum_exp_shifted_avx512(const float* x, float shift, int n) {
  const __m512 vs = _mm512_set1_ps(shift);
  __m512 acc = _mm512_setzero_ps();
  int i = 0;
  for (; i + 16 <= n; i += 16)
    acc = _mm512_add_ps(acc, exp_nonpositive_avx512(_mm512_sub_ps(_mm512_loadu_ps(x + i), vs)));
  if (i < n) {  // add only the lanes that exist (a masked add leaves the others as they were)
    const __mmask16 m = first_lanes(n - i);
    acc = _mm512_mask_add_ps(acc, m, acc,
                             exp_nonpositive_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vs)));
  }
  return horizontal_sum(acc);
}

GPT2_TARGET_AVX512 float exp_shifted_avx512(float* y, const float* x, float shift, int n) {
  const __m512 vs = _mm512_set1_ps(shift);
  __m512 acc = _mm512_setzero_ps();
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 e = exp_nonpositive_avx512(_mm512_sub_ps(_mm512_loadu_ps(x + i), vs));
    _mm512_storeu_ps(y + i, e);
    acc = _mm512_add_ps(acc, e);
  }
  if (i < n) {
    const __mmask16 m = first_lanes(n - i);
    const __m512 e = exp_nonpositive_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vs));
    _mm512_mask_storeu_ps(y + i, m, e);
    acc = _mm512_mask_add_ps(acc, m, acc, e);
  }
  return horizontal_sum(acc);
}

GPT2_TARGET_AVX512 void add_scaled_exp_shifted_avx512(float* y, float alpha, const float* x, float shift,
                                                      int n) {
  const __m512 vs = _mm512_set1_ps(shift), va = _mm512_set1_ps(alpha);
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 e = exp_nonpositive_avx512(_mm512_sub_ps(_mm512_loadu_ps(x + i), vs));
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, e, _mm512_loadu_ps(y + i)));
  }
  if (i < n) {
    const __mmask16 m = first_lanes(n - i);
    const __m512 e = exp_nonpositive_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vs));
    _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(va, e, _mm512_maskz_loadu_ps(m, y + i)));
  }
}
#endif

}  // namespace

// =============================================================================================
// The public functions: the version active_simd() names, else the portable loop.
// =============================================================================================

float max_of(const float* x, int n) {
#ifdef GPT2_X86
  if (active_simd() == Simd::avx512) return max_avx512(x, n);
  if (active_simd() == Simd::avx2_fma) return max_avx2(x, n);
#endif
  float m = x[0];
  for (int i = 1; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

float sum_exp_shifted(const float* x, float shift, int n) {
#ifdef GPT2_X86
  if (active_simd() == Simd::avx512) return sum_exp_shifted_avx512(x, shift, n);
  if (active_simd() == Simd::avx2_fma) return sum_exp_shifted_avx2(x, shift, n);
#endif
  float sum = 0.0f;
  for (int i = 0; i < n; ++i) sum += std::exp(x[i] - shift);
  return sum;
}

float exp_shifted(float* y, const float* x, float shift, int n) {
#ifdef GPT2_X86
  if (active_simd() == Simd::avx512) return exp_shifted_avx512(y, x, shift, n);
  if (active_simd() == Simd::avx2_fma) return exp_shifted_avx2(y, x, shift, n);
#endif
  float sum = 0.0f;
  for (int i = 0; i < n; ++i) {
    y[i] = std::exp(x[i] - shift);
    sum += y[i];
  }
  return sum;
}

void add_scaled_exp_shifted(float* y, float alpha, const float* x, float shift, int n) {
#ifdef GPT2_X86
  if (active_simd() == Simd::avx512) return add_scaled_exp_shifted_avx512(y, alpha, x, shift, n);
  if (active_simd() == Simd::avx2_fma) return add_scaled_exp_shifted_avx2(y, alpha, x, shift, n);
#endif
  for (int i = 0; i < n; ++i) y[i] += alpha * std::exp(x[i] - shift);
}

float dot(const float* a, const float* b, int n) {
#ifdef GPT2_X86
  if (active_simd() == Simd::avx512) return dot_avx512(a, b, n);
  if (active_simd() == Simd::avx2_fma) return dot_avx2(a, b, n);
#endif
  float sum = 0.0f;
  for (int i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

void axpy(float* y, float alpha, const float* x, int n) {
#ifdef GPT2_X86
  if (active_simd() == Simd::avx512) return axpy_avx512(y, alpha, x, n);
  if (active_simd() == Simd::avx2_fma) return axpy_avx2(y, alpha, x, n);
#endif
  for (int i = 0; i < n; ++i) y[i] += alpha * x[i];
}

void dots(float* out, const float* x, const float* rows, int n, int len) {
#ifdef GPT2_X86
  if (active_simd() == Simd::avx512) return dots_avx512(out, x, rows, n, len);
  if (active_simd() == Simd::avx2_fma) return dots_avx2(out, x, rows, n, len);
#endif
  for (int s = 0; s < n; ++s) out[s] = dot(x, rows + static_cast<size_t>(s) * len, len);
}

void add_weighted_rows(float* y, const float* w, const float* rows, int n, int len) {
  add_weighted_rows_strided(y, w, 1, rows, static_cast<size_t>(len), n, len);
}

void add_weighted_rows_strided(float* y, const float* w, size_t w_stride, const float* rows,
                               size_t row_stride, int n, int len) {
#ifdef GPT2_X86
  if (active_simd() == Simd::avx512)
    return add_weighted_rows_avx512(y, w, w_stride, rows, row_stride, n, len);
  if (active_simd() == Simd::avx2_fma)
    return add_weighted_rows_avx2(y, w, w_stride, rows, row_stride, n, len);
#endif
  for (int s = 0; s < n; ++s) axpy(y, w[s * w_stride], rows + s * row_stride, len);
}

void gelu_forward_range(float* out, const float* inp, int n) {
#ifdef GPT2_X86
  if (active_simd() == Simd::avx512) return gelu_forward_avx512(out, inp, n);
  if (active_simd() == Simd::avx2_fma) return gelu_forward_avx2(out, inp, n);
#endif
  gelu_forward(out, inp, n);
}

void gelu_backward_range(float* dinp, const float* inp, const float* dout, int n) {
#ifdef GPT2_X86
  if (active_simd() == Simd::avx512) return gelu_backward_avx512(dinp, inp, dout, n);
  if (active_simd() == Simd::avx2_fma) return gelu_backward_avx2(dinp, inp, dout, n);
#endif
  gelu_backward(dinp, inp, dout, n);
}

}  // namespace gpt2
