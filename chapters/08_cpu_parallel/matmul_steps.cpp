#include "chapters/08_cpu_parallel/matmul_steps.h"

#include <algorithm>
#include <cstddef>

#include "chapters/08_cpu_parallel/matmul.h"
#include "chapters/08_cpu_parallel/parallel.h"
#include "chapters/08_cpu_parallel/simd.h"

namespace gpt2 {

void matmul_naive(float* out, const float* a, const float* b, int M, int K, int N) {
  for (int i = 0; i < M; ++i) {
    for (int j = 0; j < N; ++j) {
      float sum = 0.0f;
      for (int k = 0; k < K; ++k)
        sum += a[static_cast<size_t>(i) * K + k] * b[static_cast<size_t>(k) * N + j];
      out[static_cast<size_t>(i) * N + j] = sum;
    }
  }
}

void matmul_loop_order(float* out, const float* a, const float* b, int M, int K, int N) {
  for (int i = 0; i < M; ++i) {
    float* y = out + static_cast<size_t>(i) * N;
    for (int j = 0; j < N; ++j) y[j] = 0.0f;
    for (int k = 0; k < K; ++k) {
      const float aik = a[static_cast<size_t>(i) * K + k];
      const float* bk = b + static_cast<size_t>(k) * N;
      for (int j = 0; j < N; ++j) y[j] += aik * bk[j];
    }
  }
}

void matmul_blocked(float* out, const float* a, const float* b, int M, int K, int N) {
  // A block of b is KB x NB floats = 256 x 512 x 4 bytes = 512 KB: it fits the 1 MB L2 cache and is
  // reused by all M rows of a before we move on. A row segment of out (NB floats) stays in L1.
  constexpr int KB = 256, NB = 512;
  for (size_t i = 0; i < static_cast<size_t>(M) * N; ++i) out[i] = 0.0f;
  for (int j0 = 0; j0 < N; j0 += NB) {
    const int j1 = std::min(N, j0 + NB);
    for (int k0 = 0; k0 < K; k0 += KB) {
      const int k1 = std::min(K, k0 + KB);
      for (int i = 0; i < M; ++i) {
        float* y = out + static_cast<size_t>(i) * N;
        for (int k = k0; k < k1; ++k) {
          const float aik = a[static_cast<size_t>(i) * K + k];
          const float* bk = b + static_cast<size_t>(k) * N;
          for (int j = j0; j < j1; ++j) y[j] += aik * bk[j];
        }
      }
    }
  }
}

namespace {

void gemm_with(Simd simd, int threads, float* out, const float* a, const float* b, int M, int K, int N) {
  const Simd saved = active_simd();
  set_simd(simd);
  {
    ScopedThreads scoped(threads);
    gemm(M, N, K, MatRef{a, K, false}, MatRef{b, N, false}, out, N, false, nullptr);
  }
  set_simd(saved);
}

}  // namespace

void matmul_packed_portable(float* out, const float* a, const float* b, int M, int K, int N) {
  gemm_with(Simd::portable, 1, out, a, b, M, K, N);
}

void matmul_packed_avx2(float* out, const float* a, const float* b, int M, int K, int N) {
  gemm_with(Simd::avx2_fma, 1, out, a, b, M, K, N);
}

void matmul_packed_avx512(float* out, const float* a, const float* b, int M, int K, int N) {
  gemm_with(Simd::avx512, 1, out, a, b, M, K, N);
}

void matmul_parallel(float* out, const float* a, const float* b, int M, int K, int N) {
  gemm(M, N, K, MatRef{a, K, false}, MatRef{b, N, false}, out, N, false, nullptr);
}

}  // namespace gpt2
