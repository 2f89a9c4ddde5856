#include "chapters/08_cpu_parallel/layernorm_fast.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "chapters/04_transformer_block/layernorm.h"
#include "chapters/08_cpu_parallel/simd.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define GPT2_X86 1
#endif

namespace gpt2 {
namespace {

#ifdef GPT2_X86
__attribute__((target("avx2,fma"))) float lanes_sum(__m256 v) {
  float l[8];
  _mm256_storeu_ps(l, v);
  return ((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7]));
}

// One row: the same three passes as the plain loop (mean, variance around the mean, affine).
__attribute__((target("avx2,fma"))) void layernorm_row_avx2(float* y, float* mean, float* rstd,
                                                            const float* x, const float* w, const float* b,
                                                            int C, float eps) {
  int c = 0;
  __m256 acc = _mm256_setzero_ps();
  for (; c + 8 <= C; c += 8) acc = _mm256_add_ps(acc, _mm256_loadu_ps(x + c));
  float sum = lanes_sum(acc);
  for (; c < C; ++c) sum += x[c];
  const float m = sum / C;

  const __m256 vm = _mm256_set1_ps(m);
  acc = _mm256_setzero_ps();
  for (c = 0; c + 8 <= C; c += 8) {
    const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + c), vm);
    acc = _mm256_fmadd_ps(d, d, acc);
  }
  float var = lanes_sum(acc);
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

// dx += rstd (g - mean(g) - xhat mean(g xhat)) for one row, g = dout * weight, with 8-lane sums.
__attribute__((target("avx2,fma"))) void layernorm_dinp_row_avx2(float* dx, const float* x, const float* dy,
                                                                 const float* w, float m, float s, int C) {
  const __m256 vm = _mm256_set1_ps(m), vs = _mm256_set1_ps(s);
  __m256 acc_g = _mm256_setzero_ps(), acc_gx = _mm256_setzero_ps();
  int c = 0;
  for (; c + 8 <= C; c += 8) {
    const __m256 xhat = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + c), vm), vs);
    const __m256 g = _mm256_mul_ps(_mm256_loadu_ps(dy + c), _mm256_loadu_ps(w + c));
    acc_g = _mm256_add_ps(acc_g, g);
    acc_gx = _mm256_fmadd_ps(g, xhat, acc_gx);
  }
  float g_mean = lanes_sum(acc_g), gx_mean = lanes_sum(acc_gx);
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
#endif

}  // namespace

void layernorm_forward_fast(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                            const float* bias, int N, int C, float eps) {
  const bool avx2 = active_simd() == Simd::avx2_fma;
#pragma omp parallel for schedule(static) if (static_cast <double>(N) * C > 1e4)
  for (int r = 0; r < N; ++r) {
    const size_t off = static_cast<size_t>(r) * C;
#ifdef GPT2_X86
    if (avx2) {
      layernorm_row_avx2(out + off, mean + r, rstd + r, inp + off, weight, bias, C, eps);
      continue;
    }
#else
    (void)avx2;
#endif
    layernorm_forward(out + off, mean + r, rstd + r, inp + off, weight, bias, 1, C, eps);  // the plain row
  }
}

void layernorm_backward_fast(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                             const float* weight, const float* mean, const float* rstd, int N, int C) {
  [[maybe_unused]] const bool parallel = static_cast<double>(N) * C > 1e4;
  // 1) dinp, row by row (each row is independent): the plain formula, with 8-lane sums for the
  // two row means when AVX2 is available.
  const bool avx2 = active_simd() == Simd::avx2_fma;
#pragma omp parallel for schedule(static) if (parallel)
  for (int r = 0; r < N; ++r) {
    const size_t off = static_cast<size_t>(r) * C;
#ifdef GPT2_X86
    if (avx2) {
      layernorm_dinp_row_avx2(dinp + off, inp + off, dout + off, weight, mean[r], rstd[r], C);
      continue;
    }
#else
    (void)avx2;
#endif
    const float* x = inp + off;
    const float* dy = dout + off;
    float* dx = dinp + off;
    const float m = mean[r], s = rstd[r];
    float g_mean = 0, gx_mean = 0;
    for (int c = 0; c < C; ++c) {
      const float xhat = (x[c] - m) * s;
      const float g = dy[c] * weight[c];
      g_mean += g;
      gx_mean += g * xhat;
    }
    g_mean /= C;
    gx_mean /= C;
    for (int c = 0; c < C; ++c) {
      const float xhat = (x[c] - m) * s;
      dx[c] += s * (dy[c] * weight[c] - g_mean - xhat * gx_mean);
    }
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
