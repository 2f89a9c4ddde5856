// ch08_bench: where the time goes, measured. Prints, in one run:
//   1. the machine: threads, SIMD level, and its measured fp32 peak (an FMA-only loop);
//   2. the chapter's walk from the naive loop to the parallel packed gemm, GFLOP/s per step;
//   3. GFLOP/s of every matrix product of a GPT-2 124M training step (B = 4, T = 64), against
//      the peak and, when OpenBLAS was found at build time, against its cblas_sgemm.
//
//   4. the full training step of GPT-2 124M at B = 4, T = 64 (forward, backward, AdamW) on the fast
//      kernels, its peak memory, and the same step in PyTorch when /usr/bin/python3 has torch;
//   5. generation tokens/s of GPT-2 124M with the KV cache (batch 1).
//
//   6. the main job's training step (chapter 12's default shape, or --main-job L,NH,C,V,B,T) on the
//      fast kernels and on chapter 05's plain ones.
//
// Usage: ch08_bench [--quick] [--no-torch] [--only walk|shapes|step|gen|main] [--main-job L,NH,C,V,B,T]
//                   [--min-seconds S]  (repeat each matrix-product timing for S seconds, keep the best;
//                                       on a busy machine a larger S finds the quiet moments)
//   threads from OMP_NUM_THREADS; --quick skips the slow naive step; --no-torch skips PyTorch;
//   --only runs one section (and the peak measurement).
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
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

#include "chapters/05_gpt2_model/gpt2.h"
#include "chapters/05_gpt2_model/kv_cache.h"
#include "chapters/07_sampling/generate.h"
#include "chapters/08_cpu_parallel/adamw_fast.h"
#include "chapters/08_cpu_parallel/fast_backend.h"

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
double g_min_seconds = 0.3;  // --min-seconds: how long to repeat each measurement
double best_seconds(const std::function<void()>& fn, double min_seconds = -1) {
  if (min_seconds < 0) min_seconds = g_min_seconds;
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

// CPU time (user + system) of the whole process so far, all threads, in seconds.
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// Peak resident memory of this process so far (VmHWM), in MB; 0 where /proc is missing.
double peak_rss_mb() {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  double mb = 0;
  while (std::fgets(line, sizeof line, f)) {
    long kb = 0;
    if (std::sscanf(line, "VmHWM: %ld kB", &kb) == 1) mb = kb / 1024.0;
  }
  std::fclose(f);
  return mb;
}

// Seconds of the best of 3 training steps (after one warm-up) of `config` at B x T, split into
// forward, backward (with zero_grad) and AdamW.
struct StepTimes {
  double forward = 1e30, backward = 1e30, adamw = 1e30, total = 1e30;
  double cpu = 1e30;  // CPU seconds of the whole process (all threads) for the best step
};
StepTimes time_training_step(const gpt2::GPT2Config& config, int B, int T, gpt2::Backend& backend,
                             int steps = 3) {
  gpt2::GPT2 model(config, backend);
  model.init_random(1337);
  model.set_mode(gpt2::GPT2::Mode::training);
  gpt2::Rng rng(7);
  std::vector<int> tokens(static_cast<size_t>(B) * T), targets(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    tokens[i] = static_cast<int>(rng.below(config.vocab_size));
    targets[i] = static_cast<int>(rng.below(config.vocab_size));
  }
  const size_t n = model.params().size();
  std::vector<float> m(n, 0.0f), v(n, 0.0f);
  StepTimes best;
  for (int step = 1; step <= steps + 1; ++step) {
    const double cpu0 = cpu_seconds();
    Timer t;
    model.forward(tokens.data(), targets.data(), B, T);
    const double f = t.seconds();
    model.zero_grad();
    model.backward();
    const double b = t.seconds();
    gpt2::adamw_update_fast(model.params().data(), model.grads().data(), m.data(), v.data(), n, step, 6e-4f,
                            0.9f, 0.95f, 1e-8f, 0.1f);
    const double total = t.seconds();
    if (step == 1) continue;  // warm-up
    best.forward = std::min(best.forward, f);
    best.backward = std::min(best.backward, b - f);
    best.adamw = std::min(best.adamw, total - b);
    if (total < best.total) best.cpu = cpu_seconds() - cpu0;
    best.total = std::min(best.total, total);
  }
  return best;
}

// Runs the PyTorch twin of the training step; returns its seconds, or 0 when torch is missing.
double torch_step_seconds(int threads, const char* args) {
  const std::string script = std::string(GPT2_CH08_SOURCE_DIR) + "/torch_train_step.py";
  // Debian's torch links libblas.so.3; point it at OpenBLAS's OpenMP build (libopenblas0-openmp)
  // when present, as the README's reference figures did.
  const std::string cmd = "LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 " +
                          script + " " + std::to_string(threads) + " " + args + " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return 0;
  char line[256];
  double seconds = 0;
  while (std::fgets(line, sizeof line, p)) std::sscanf(line, "torch_step_seconds %lf", &seconds);
  pclose(p);
  return seconds;
}

struct MatmulShape {
  const char* name;
  int M, N, K;
  bool ta, tb;  // op(A) = A^T, op(B) = B^T
};

}  // namespace

int main(int argc, char** argv) {
  bool quick = false, torch = true;
  std::string only;
  // Chapter 12's default training shape (4 layers, 4 heads, 128 channels, context 256, batch 8)
  // with a 1024-token vocabulary.
  std::string main_job = "4,4,128,1024,8,256";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    if (std::strcmp(argv[i], "--no-torch") == 0) torch = false;
    if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = argv[++i];
    if (std::strcmp(argv[i], "--main-job") == 0 && i + 1 < argc) main_job = argv[++i];
    if (std::strcmp(argv[i], "--min-seconds") == 0 && i + 1 < argc) g_min_seconds = std::atof(argv[++i]);
  }
  auto run = [&](const char* section) { return only.empty() || only == section; };
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // line by line, also into a pipe
  const int threads = gpt2::max_threads();
  std::printf("ch08_bench: %d thread(s), SIMD %s\n", threads, gpt2::simd_name(gpt2::active_simd()));
  const double peak1 = measure_peak_gflops(1), peak = measure_peak_gflops(threads);
  std::printf("measured fp32 peak (FMA-only loop): %.1f GFLOP/s on 1 thread, %.1f on %d\n\n", peak1, peak,
              threads);

  // ---- 2. The walk, on the attention-projection shape (M = B*T = 256, K = N = 768).
  if (run("walk")) {
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
  if (run("shapes")) {
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

  // ---- 4. The training step of GPT-2 124M, B = 4, T = 64.
  if (run("step")) {
    const int B = 4, T = 64;
    const gpt2::GPT2Config config = gpt2::GPT2Config::from_name("gpt2");
    gpt2::FastCpuBackend fast;
    const StepTimes st = time_training_step(config, B, T, fast);
    std::printf("GPT-2 124M training step, B = %d, T = %d, %d thread(s), fast kernels:\n", B, T, threads);
    std::printf(
        "  forward %.3f s, backward %.3f s, AdamW %.3f s: step %.3f s (%.0f tokens/s), peak memory %.0f MB\n",
        st.forward, st.backward, st.adamw, st.total, B * T / st.total, peak_rss_mb());
    // On a shared machine the wall time includes the time the threads were descheduled; the CPU
    // time does not. With OMP_WAIT_POLICY=passive (no spinning) CPU time / threads is about what
    // the step takes on an idle machine, if the threads are well balanced.
    std::printf("  CPU time of the step: %.3f s over %d thread(s), %.3f s per thread\n", st.cpu, threads,
                st.cpu / threads);
    if (torch) {
      const double torch_s = torch_step_seconds(threads, "4 64 12 12 768 50257");
      if (torch_s > 0) {
        std::printf("  PyTorch (same step, %d thread(s)): %.3f s, ratio PyTorch / ours = %.2f\n", threads,
                    torch_s, torch_s / st.total);
      } else {
        std::printf("  PyTorch: not available (/usr/bin/python3 with torch)\n");
      }
    }
    std::printf("\n");
  }

  // ---- 6. The main job's configuration, fast and plain kernels.
  if (run("main")) {
    int L = 0, NH = 0, C = 0, V = 0, B = 0, T = 0;
    if (std::sscanf(main_job.c_str(), "%d,%d,%d,%d,%d,%d", &L, &NH, &C, &V, &B, &T) != 6) {
      std::fprintf(stderr, "ch08_bench: --main-job wants L,NH,C,V,B,T, got '%s'\n", main_job.c_str());
      return 1;
    }
    const gpt2::GPT2Config config = gpt2::GPT2Config::make(L, NH, C, T, V);
    gpt2::FastCpuBackend fast;
    gpt2::CpuBackend plain;
    const StepTimes f = time_training_step(config, B, T, fast, 5);
    const StepTimes p = time_training_step(config, B, T, plain, 1);
    std::printf("Main job shape (L=%d NH=%d C=%d V=%d, B=%d T=%d), %d thread(s):\n", L, NH, C, V, B, T,
                threads);
    std::printf("  fast kernels:  step %.4f s, %.0f tokens/s\n", f.total, B * T / f.total);
    std::printf("  plain kernels: step %.4f s, %.0f tokens/s (fast is %.1fx)\n\n", p.total, B * T / p.total,
                p.total / f.total);
  }

  // ---- 5. Generation with the KV cache: GPT-2 124M, batch 1, a 16-token prompt, 64 new tokens.
  if (run("gen")) {
    const gpt2::GPT2Config config = gpt2::GPT2Config::from_name("gpt2");
    gpt2::FastCpuBackend fast;
    gpt2::GPT2 model(config, fast);
    model.init_random(1337);
    gpt2::KVCache cache(config, fast, 1, 128);
    std::vector<int> prompt(16);
    for (int i = 0; i < 16; ++i) prompt[i] = 1000 + 37 * i;
    const int new_tokens = 64;
    const gpt2::Generation g = gpt2::generate(
        model, cache, prompt, {.max_new_tokens = new_tokens + 1, .greedy = true, .stop_at_eot = false});
    std::printf(
        "GPT-2 124M generation, KV cache, batch 1, %d thread(s): prefill of 16 tokens %.3f s, "
        "%.1f tokens/s generating %d tokens\n",
        threads, g.prefill_seconds, g.decode_tokens_per_second(), g.decode_steps);
  }
  return 0;
}
