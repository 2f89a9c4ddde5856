// ch08_packed_step: the readable packed step (packed_step.h) timed side by side with the walk's
// steps and with gemm(), on the attention projection of GPT-2 at B = 4, T = 64:
// (256 x 768) @ (768 x 768). One command:
//
//   OMP_NUM_THREADS=2 ./build/bin/ch08_packed_step [--min-seconds S]
//
// Each line is the best of repeats taking at least S seconds (default 0.5). On a shared machine
// compare the ratios within one run, not the absolute numbers between runs.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

#include "chapters/08_cpu_parallel/matmul_steps.h"
#include "chapters/08_cpu_parallel/packed_step.h"
#include "chapters/08_cpu_parallel/parallel.h"
#include "chapters/08_cpu_parallel/simd.h"
#include "common/rng.h"
#include "common/timer.h"

namespace {

double best_seconds(const std::function<void()>& fn, double min_seconds) {
  double best = 1e30, total = 0;
  for (int runs = 0; runs < 2 || total < min_seconds; ++runs) {
    gpt2::Timer t;
    fn();
    const double s = t.seconds();
    best = std::min(best, s);
    total += s;
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  double min_seconds = 0.5;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--min-seconds") == 0 && i + 1 < argc) {
      min_seconds = std::atof(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: ch08_packed_step [--min-seconds S]\n");
      return 2;
    }
  }
  const int M = 256, K = 768, N = 768;
  const double gflop = 2.0 * M * K * N / 1e9;
  gpt2::Rng rng(8);
  std::vector<float> a(static_cast<size_t>(M) * K), b(static_cast<size_t>(K) * N),
      out(static_cast<size_t>(M) * N);
  rng.fill_normal(a, 0.0f, 1.0f);
  rng.fill_normal(b, 0.0f, 1.0f);
  const int threads = gpt2::max_threads();
  std::printf("(%d x %d) @ (%d x %d), %.2f GFLOP; CPU has %s; up to %d thread(s)\n\n", M, K, K, N, gflop,
              gpt2::simd_name(gpt2::detected_simd()), threads);
  std::printf("| version | threads | ms | GFLOP/s |\n|---|---:|---:|---:|\n");

  struct Line {
    const char* name;
    gpt2::Simd simd;
    int threads;
    void (*fn)(float*, const float*, const float*, int, int, int);
  };
  const Line lines[] = {
      {"step 3: blocked i-k-j loop", gpt2::Simd::portable, 1, gpt2::matmul_blocked},
      {"packed step, plain C++ kernel", gpt2::Simd::portable, 1, gpt2::matmul_packed_step},
      {"packed step, AVX2 kernel", gpt2::Simd::avx2_fma, 1, gpt2::matmul_packed_step},
      {"packed step, AVX2 kernel", gpt2::Simd::avx2_fma, threads, gpt2::matmul_packed_step},
      {"gemm(), AVX2 (step 5)", gpt2::Simd::avx2_fma, 1, gpt2::matmul_packed_avx2},
      {"gemm(), AVX2 (step 6)", gpt2::Simd::avx2_fma, threads, gpt2::matmul_parallel},
  };
  const gpt2::Simd saved = gpt2::active_simd();
  for (const Line& line : lines) {
    gpt2::set_simd(line.simd);
    gpt2::ScopedThreads scoped(line.threads);
    const double s = best_seconds([&] { line.fn(out.data(), a.data(), b.data(), M, K, N); }, min_seconds);
    std::printf("| %s | %d | %.2f | %.1f |\n", line.name, line.threads, s * 1e3, gflop / s);
  }
  gpt2::set_simd(saved);
  return 0;
}
