#include "chapters/08_cpu_parallel/layernorm_fast.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "chapters/04_transformer_block/layernorm.h"
#include "chapters/08_cpu_parallel/simd.h"

namespace gpt2 {
namespace {

#ifdef GPT2_X86
// One row: the same three passes as the plain loop (mean, variance around the mean, affine).
GPT2_TARGET_AVX2 void layernorm_row_avx2(float* y, float* mean, float* rstd, const float* x, const float* w,
                                         const float* b, int C, float eps) {
  int c = 0;
  __m256 acc = _mm256_setzero_ps();
  for (; c + 8 <= C; c += 8) acc = _mm256_add_ps(acc, _mm256_loadu_ps(x + c));
  float sum = horizontal_sum(acc);
  for (; c < C; ++c) sum += x[c];
  const float m = sum / C;

  const __m256 vm = _mm256_set1_ps(m);
  acc = _mm256_setzero_ps();
  for (c = 0; c + 8 <= C; c += 8) {
    const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + c), vm);
    acc = _mm256_fmadd_ps(d, d, acc);
  }
  float var = horizontal_sum(acc);
  for (; c < C; ++c) var += (x[c] - m) * (x[c] - m);
  var /= C;
  const float s = 1.0f / std::sqrt(var + eps);

  const __m256 vs = _mm256_set1_ps(s);
  for (c = 0; c + 8 <= C; c += 8) {
    const __m256 xhat = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + c), vm), vs);
    _mm256_storeu_ps(y + c, _mm256_fmadd_ps(xhat, _mm256_loadu_ps(w + c), _mm256_loadu_ps(b + c)));
  }
  for (; c < C; ++c) y[c] = (x[c] - m) * s * w[c] + b[c];
  *mean = m;
  *rstd = s;
}

// dx += rstd (g - mean(g) - xhat mean(g xhat)) for one row, g = dout * weight, with 8-lane sums
// (chapter 04's layernorm_backward_row, vectorised).
GPT2_TARGET_AVX2 void layernorm_backward_row_avx2(float* dx, const float* dy, const float* x, const float* w,
                                                  float m, float s, int C) {
  const __m256 vm = _mm256_set1_ps(m), vs = _mm256_set1_ps(s);
  __m256 acc_g = _mm256_setzero_ps(), acc_gx = _mm256_setzero_ps();
  int c = 0;
  for (; c + 8 <= C; c += 8) {
    const __m256 xhat = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + c), vm), vs);
    const __m256 g = _mm256_mul_ps(_mm256_loadu_ps(dy + c), _mm256_loadu_ps(w + c));
    acc_g = _mm256_add_ps(acc_g, g);
    acc_gx = _mm256_fmadd_ps(g, xhat, acc_gx);
  }
  float g_mean = horizontal_sum(acc_g), gx_mean = horizontal_sum(acc_gx);
  for (int t = c; t < C; ++t) {
    const float xhat = (x[t] - m) * s, g = dy[t] * w[t];
    g_mean += g;
    gx_mean += g * xhat;
  }
  g_mean /= C;
  gx_mean /= C;
  const __m256 vgm = _mm256_set1_ps(g_mean), vgx = _mm256_set1_ps(gx_mean);
  for (c = 0; c + 8 <= C; c += 8) {
    const __m256 xhat = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + c), vm), vs);
    const __m256 g = _mm256_mul_ps(_mm256_loadu_ps(dy + c), _mm256_loadu_ps(w + c));
    const __m256 inner = _mm256_fnmadd_ps(xhat, vgx, _mm256_sub_ps(g, vgm));  // g - g_mean - xhat gx_mean
    _mm256_storeu_ps(dx + c, _mm256_fmadd_ps(vs, inner, _mm256_loadu_ps(dx + c)));
  }
  for (; c < C; ++c) {
    const float xhat = (x[c] - m) * s;
    dx[c] += s * (dy[c] * w[c] - g_mean - xhat * gx_mean);
  }
}

// The two rows above with 16 lanes; the last C mod 16 channels in one masked step.
GPT2_TARGET_AVX512 void layernorm_row_avx512(float* y, float* mean, float* rstd, const float* x,
                                             const float* w, const float* b, int C, float eps) {
  const __mmask16 tail = first_lanes(C % 16);
  const int body = C - C % 16;
  __m512 acc = _mm512_setzero_ps();
  for (int c = 0; c < body; c += 16) acc = _mm512_add_ps(acc, _mm512_loadu_ps(x + c));
  acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(tail, x + body));
  const float m = horizontal_sum(acc) / C;

  const __m512 vm = _mm512_set1_ps(m);
  acc = _mm512_setzero_ps();
  for (int c = 0; c < body; c += 16) {
    const __m512 d = _mm512_sub_ps(_mm512_loadu_ps(x + c), vm);
    acc = _mm512_fmadd_ps(d, d, acc);
  }
  const __m512 d_tail = _mm512_maskz_sub_ps(tail, _mm512_maskz_loadu_ps(tail, x + body), vm);  // 0 past C
  acc = _mm512_fmadd_ps(d_tail, d_tail, acc);
  const float s = 1.0f / std::sqrt(horizontal_sum(acc) / C + eps);

  const __m512 vs = _mm512_set1_ps(s);
  for (int c = 0; c < C; c += 16) {
    const __mmask16 k = first_lanes(C - c);
    const __m512 xhat = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + c), vm), vs);
    _mm512_mask_storeu_ps(
        y + c, k, _mm512_fmadd_ps(xhat, _mm512_maskz_loadu_ps(k, w + c), _mm512_maskz_loadu_ps(k, b + c)));
  }
  *mean = m;
  *rstd = s;
}

GPT2_TARGET_AVX512 void layernorm_backward_row_avx512(float* dx, const float* dy, const float* x,
                                                      const float* w, float m, float s, int C) {
  const __m512 vm = _mm512_set1_ps(m), vs = _mm512_set1_ps(s);
  __m512 acc_g = _mm512_setzero_ps(), acc_gx = _mm512_setzero_ps();
  for (int c = 0; c < C; c += 16) {  // lanes past C load dy = w = 0, so g = 0 adds nothing
    const __mmask16 k = first_lanes(C - c);
    const __m512 xhat = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + c), vm), vs);
    const __m512 g = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, dy + c), _mm512_maskz_loadu_ps(k, w + c));
    acc_g = _mm512_add_ps(acc_g, g);
    acc_gx = _mm512_fmadd_ps(g, xhat, acc_gx);
  }
  const float g_mean = horizontal_sum(acc_g) / C, gx_mean = horizontal_sum(acc_gx) / C;
  const __m512 vgm = _mm512_set1_ps(g_mean), vgx = _mm512_set1_ps(gx_mean);
  for (int c = 0; c < C; c += 16) {
    const __mmask16 k = first_lanes(C - c);
    const __m512 xhat = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + c), vm), vs);
    const __m512 g = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, dy + c), _mm512_maskz_loadu_ps(k, w + c));
    const __m512 inner = _mm512_fnmadd_ps(xhat, vgx, _mm512_sub_ps(g, vgm));
    _mm512_mask_storeu_ps(dx + c, k, _mm512_fmadd_ps(vs, inner, _mm512_maskz_loadu_ps(k, dx + c)));
  }
}
#endif

}  // namespace

void layernorm_forward_fast(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                            const float* bias, int N, int C, float eps) {
  const Simd simd = active_simd();
#pragma omp parallel for schedule(static) if (static_cast <double>(N) * C > 1e4)
  for (int r = 0; r < N; ++r) {
    const size_t off = static_cast<size_t>(r) * C;
#ifdef GPT2_X86
    if (simd == Simd::avx512) {
      layernorm_row_avx512(out + off, mean + r, rstd + r, inp + off, weight, bias, C, eps);
      continue;
    }
    if (simd == Simd::avx2_fma) {
      layernorm_row_avx2(out + off, mean + r, rstd + r, inp + off, weight, bias, C, eps);
      continue;
    }
#else
    (void)simd;
#endif
    layernorm_forward(out + off, mean + r, rstd + r, inp + off, weight, bias, 1, C, eps);  // the plain row
  }
}

void layernorm_backward_fast(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                             const float* weight, const float* mean, const float* rstd, int N, int C) {
  [[maybe_unused]] const bool parallel = static_cast<double>(N) * C > 1e4;
  // 1) dinp, row by row (each row is independent): chapter 04's row formula, with 8- or 16-lane
  // sums for its two row means when the CPU has AVX2 or AVX-512.
  const Simd simd = active_simd();
#pragma omp parallel for schedule(static) if (parallel)
  for (int r = 0; r < N; ++r) {
    const size_t off = static_cast<size_t>(r) * C;
#ifdef GPT2_X86
    if (simd == Simd::avx512) {
      layernorm_backward_row_avx512(dinp + off, dout + off, inp + off, weight, mean[r], rstd[r], C);
      continue;
    }
    if (simd == Simd::avx2_fma) {
      layernorm_backward_row_avx2(dinp + off, dout + off, inp + off, weight, mean[r], rstd[r], C);
      continue;
    }
#else
    (void)simd;
#endif
    layernorm_backward_row(dinp + off, dout + off, inp + off, weight, mean[r], rstd[r], C);  // the plain row
  }
  // 2) dweight and dbias, column block by column block: each sum runs over the rows in order.
  // The running sums of a block live in small local arrays (no aliasing with the inputs, so the
  // compiler vectorises the inner loop); the additions are the plain loop's, in its order.
  constexpr int kCols = 64;
  const int blocks = (C + kCols - 1) / kCols;
#pragma omp parallel for schedule(static) if (parallel)
  for (int blk = 0; blk < blocks; ++blk) {
    const int c0 = blk * kCols, width = std::min(kCols, C - c0);
    float sum_w[kCols], sum_b[kCols], xhat[kCols];
    for (int j = 0; j < width; ++j) {
      sum_w[j] = dweight[c0 + j];
      sum_b[j] = dbias[c0 + j];
    }
    for (int r = 0; r < N; ++r) {
      const float* x = inp + static_cast<size_t>(r) * C + c0;
      const float* dy = dout + static_cast<size_t>(r) * C + c0;
      const float m = mean[r], s = rstd[r];
      for (int j = 0; j < width; ++j) xhat[j] = (x[j] - m) * s;
      for (int j = 0; j < width; ++j) {
        sum_b[j] += dy[j];
        sum_w[j] += dy[j] * xhat[j];
      }
    }
    for (int j = 0; j < width; ++j) {
      dweight[c0 + j] = sum_w[j];
      dbias[c0 + j] = sum_b[j];
    }
  }
}

}  // namespace gpt2
