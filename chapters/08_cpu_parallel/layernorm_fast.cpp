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
  // 1) dinp, row by row (each row is independent): the plain formula.
#pragma omp parallel for schedule(static) if (parallel)
  for (int r = 0; r < N; ++r) {
    const size_t off = static_cast<size_t>(r) * C;
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
  constexpr int kCols = 64;
  const int blocks = (C + kCols - 1) / kCols;
#pragma omp parallel for schedule(static) if (parallel)
  for (int blk = 0; blk < blocks; ++blk) {
    const int c0 = blk * kCols, c1 = std::min(C, c0 + kCols);
    for (int r = 0; r < N; ++r) {
      const size_t off = static_cast<size_t>(r) * C;
      const float m = mean[r], s = rstd[r];
      for (int c = c0; c < c1; ++c) {
        const float xhat = (inp[off + c] - m) * s;
        dbias[c] += dout[off + c];
        dweight[c] += dout[off + c] * xhat;
      }
    }
  }
}

}  // namespace gpt2
