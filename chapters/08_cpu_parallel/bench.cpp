// ch08_bench: where the time goes, measured. Prints, in one run:
//   1. the machine: threads, SIMD level, and its measured fp32 peak (an FMA-only loop);
//   2. the chapter's walk from the naive loop to the parallel packed gemm, GFLOP/s per step;
//   3. GFLOP/s of every matrix product of a GPT-2 124M training step (B = 4, T = 64), against
//      the peak and, when OpenBLAS was found at build time, against its cblas_sgemm.
//
// Usage: ch08_bench [--quick]   (threads from OMP_NUM_THREADS; --quick skips the slow naive steps)
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "chapters/08_cpu_parallel/matmul.h"
#include "chapters/08_cpu_parallel/matmul_steps.h"
#include "chapters/08_cpu_parallel/parallel.h"
#include "chapters/08_cpu_parallel/simd.h"
#include "common/rng.h"
#include "common/timer.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#ifdef GPT2_HAVE_OPENBLAS
#include <cblas.h>
extern "C" void openblas_set_num_threads(int);
#endif

namespace {

using gpt2::Timer;

std::vector<float> random_vector(size_t n, uint64_t seed) {
  gpt2::Rng rng(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = rng.uniform() * 2.0f - 1.0f;
  return v;
}

// Best time of `fn` over repeats taking at least `min_seconds` in total (at least 2 runs, the
// first one warms the caches and the thread pool and is not counted).
double best_seconds(const std::function<void()>& fn, double min_seconds = 0.3) {
  fn();
  double best = 1e30, total = 0;
  int runs = 0;
  while (runs < 2 || total < min_seconds) {
    Timer t;
    fn();
    const double s = t.seconds();
    best = std::min(best, s);
    total += s;
    ++runs;
  }
  return best;
}

#if defined(__x86_64__) || defined(__i386__)
// 12 independent chains of FMAs on registers: nothing but arithmetic, so this is the peak.
__attribute__((target("avx2,fma"))) double fma_loop_avx2(long iterations) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(static_cast<float>(i));
  const __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
  for (long it = 0; it < iterations; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], x, y);
  }
  __m256 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, acc[i]);
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0];
}
#endif

// Measured fp32 peak of `threads` threads running FMAs only, in GFLOP/s.
double measure_peak_gflops(int threads) {
#if defined(__x86_64__) || defined(__i386__)
  if (gpt2::detected_simd() != gpt2::Simd::avx2_fma) return 0;
  const long iterations = 20'000'000;
  volatile double sink = 0;
  double seconds = best_seconds(
      [&] {
        gpt2::ScopedThreads scoped(threads);
#pragma omp parallel
        { sink = sink + fma_loop_avx2(iterations); }
      },
      0.5);
  return 2.0 * 8 * 12 * iterations * threads / seconds / 1e9;
#else
  (void)threads;
  return 0;
#endif
}

struct MatmulShape {
  const char* name;
  int M, N, K;
  bool ta, tb;  // op(A) = A^T, op(B) = B^T
};

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int threads = gpt2::max_threads();
  std::printf("ch08_bench: %d thread(s), SIMD %s\n", threads, gpt2::simd_name(gpt2::active_simd()));
  const double peak1 = measure_peak_gflops(1), peak = measure_peak_gflops(threads);
  std::printf("measured fp32 peak (FMA-only loop): %.1f GFLOP/s on 1 thread, %.1f on %d\n\n", peak1, peak,
              threads);

  // ---- 2. The walk, on the attention-projection shape (M = B*T = 256, K = N = 768).
  {
    const int M = 256, K = 768, N = 768;
    const auto a = random_vector(static_cast<size_t>(M) * K, 1),
               b = random_vector(static_cast<size_t>(K) * N, 2);
    std::vector<float> out(static_cast<size_t>(M) * N);
    const double flop = 2.0 * M * N * K;
    struct Step {
      const char* name;
      void (*fn)(float*, const float*, const float*, int, int, int);
      bool slow;
    };
    const Step steps[] = {
        {"1 naive i-j-k", gpt2::matmul_naive, true},
        {"2 loop order i-k-j", gpt2::matmul_loop_order, false},
        {"3 cache blocking", gpt2::matmul_blocked, false},
        {"4 packing + 6x16 micro-kernel, portable", gpt2::matmul_packed_portable, false},
        {"5 packing + 6x16 micro-kernel, AVX2+FMA", gpt2::matmul_packed_avx2, false},
        {"6 step 5 on all threads (OpenMP)", gpt2::matmul_parallel, false},
    };
    std::printf("The walk: out (%d x %d) = a (%d x %d) @ b (%d x %d)\n", M, N, M, K, K, N);
    std::printf("| step | ms | GFLOP/s | %% of peak |\n|---|---:|---:|---:|\n");
    for (const Step& s : steps) {
      if (quick && s.slow) continue;
      const double sec =
          best_seconds([&] { s.fn(out.data(), a.data(), b.data(), M, K, N); }, s.slow ? 0 : 0.3);
      const bool one_thread = std::strncmp(s.name, "6", 1) != 0;
      const double gf = flop / sec / 1e9;
      std::printf("| %s | %.2f | %.1f | %.0f%% |\n", s.name, sec * 1e3, gf,
                  100 * gf / (one_thread ? peak1 : peak));
    }
    std::printf("(steps 1-5 on one thread, against the 1-thread peak)\n\n");
  }

  // ---- 3. Every product of a GPT-2 124M training step at B = 4, T = 64.
  {
    const int BT = 256, C = 768, V = 50257;
    const MatmulShape shapes[] = {
        {"qkv      fwd  inp@W", BT, 3 * C, C, false, false},
        {"qkv      bwd  dout@W^T", BT, C, 3 * C, false, true},
        {"qkv      bwd  inp^T@dout", C, 3 * C, BT, true, false},
        {"attproj  fwd", BT, C, C, false, false},
        {"attproj  bwd  dinp", BT, C, C, false, true},
        {"attproj  bwd  dW", C, C, BT, true, false},
        {"fc       fwd", BT, 4 * C, C, false, false},
        {"fc       bwd  dinp", BT, C, 4 * C, false, true},
        {"fc       bwd  dW", C, 4 * C, BT, true, false},
        {"fcproj   fwd", BT, C, 4 * C, false, false},
        {"fcproj   bwd  dinp", BT, 4 * C, C, false, true},
        {"fcproj   bwd  dW", 4 * C, C, BT, true, false},
        {"lm head  fwd  x@W (C x V)", BT, V, C, false, false},
        {"lm head  fwd  x@wte^T", BT, V, C, false, true},
        {"lm head  bwd  dlogits@wte", BT, C, V, false, false},
        {"lm head  bwd  dlogits^T@x", V, C, BT, true, false},
    };
#ifdef GPT2_HAVE_OPENBLAS
    openblas_set_num_threads(threads);
    const char* blas_header = " OpenBLAS GFLOP/s |";
    const char* blas_rule = "---:|";
#else
    const char* blas_header = "";
    const char* blas_rule = "";
#endif
    std::printf("GPT-2 124M matrix products, B*T = %d, %d thread(s), peak %.0f GFLOP/s\n", BT, threads, peak);
    std::printf(
        "| product | M | N | K | ms | GFLOP/s | %% of peak |%s\n|---|---:|---:|---:|---:|---:|---:|%s\n",
        blas_header, blas_rule);
    double total_flop = 0, total_sec = 0;
    for (const MatmulShape& s : shapes) {
      const size_t a_rows = s.ta ? s.K : s.M, a_cols = s.ta ? s.M : s.K;
      const size_t b_rows = s.tb ? s.N : s.K, b_cols = s.tb ? s.K : s.N;
      const auto a = random_vector(a_rows * a_cols, 3), b = random_vector(b_rows * b_cols, 4);
      std::vector<float> c(static_cast<size_t>(s.M) * s.N);
      const gpt2::MatRef A{a.data(), static_cast<int>(a_cols), s.ta},
          B{b.data(), static_cast<int>(b_cols), s.tb};
      const double flop = 2.0 * s.M * s.N * s.K;
      const double sec = best_seconds([&] { gpt2::gemm(s.M, s.N, s.K, A, B, c.data(), s.N, true, nullptr); });
      total_flop += flop;
      total_sec += sec;
      std::printf("| %s | %d | %d | %d | %.2f | %.1f | %.0f%% |", s.name, s.M, s.N, s.K, sec * 1e3,
                  flop / sec / 1e9, 100 * flop / sec / 1e9 / peak);
#ifdef GPT2_HAVE_OPENBLAS
      const double blas_sec = best_seconds([&] {
        cblas_sgemm(CblasRowMajor, s.ta ? CblasTrans : CblasNoTrans, s.tb ? CblasTrans : CblasNoTrans, s.M,
                    s.N, s.K, 1.0f, a.data(), static_cast<int>(a_cols), b.data(), static_cast<int>(b_cols),
                    1.0f, c.data(), s.N);
      });
      std::printf(" %.1f |", flop / blas_sec / 1e9);
#endif
      std::printf("\n");
    }
    std::printf("all products: %.1f GFLOP/s (%.0f%% of peak)\n\n", total_flop / total_sec / 1e9,
                100 * total_flop / total_sec / 1e9 / peak);
  }
  return 0;
}
