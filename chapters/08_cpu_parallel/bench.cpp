// ch08_bench: where the time goes, measured. Prints, in one run:
//   1. the machine: threads, load, the kernel sets this CPU has and the measured fp32 peak of each
//      (an FMA-only loop on registers), and which kernels OpenBLAS uses;
//   2. the chapter's walk from the naive loop to the parallel packed gemm, GFLOP/s per step;
//   3. GFLOP/s of every matrix product of a GPT-2 124M training step (B = 4, T = 64) on each kernel
//      set, against its peak and, when OpenBLAS was found at build time, against its cblas_sgemm,
//      timed in turns (ours on each set, then OpenBLAS, again and again; the best of each counts) so
//      that a busy machine slows all of them alike;
//   4. the full training step of GPT-2 124M at B = 4, T = 64 (forward, backward, AdamW) on each
//      kernel set, in turns, its peak memory, and the same step in PyTorch (before and after ours)
//      when /usr/bin/python3 has torch;
//   5. generation tokens/s of GPT-2 124M with the KV cache (batch 1);
//   6. the main job's training step (chapter 12's default shape, or --main-job L,NH,C,V,B,T) on the
//      fast kernels and on chapter 05's plain ones;
//   7. generation of GPT-2 124M with its weights in float32, bf16 and q8 (activations float, and
//      quantized), in turns with a measurement of the memory's read bandwidth: tokens/s of each and
//      the fraction of the bandwidth it uses.
//
// Usage: ch08_bench [--quick] [--no-torch] [--only walk|shapes|step|gen|main|formats] [--main-job
// L,NH,C,V,B,T]
//                   [--min-seconds S] [--rounds R] [--blas-core auto|keep|NAME] [--clock wall|cpu]
//                   [--small-pages]
//   --min-seconds S  repeat each matrix-product timing for S seconds, keep the best (0.3);
//   --rounds R       turns of ours-then-OpenBLAS per product, and of training steps per set (3);
//                    on a busy machine larger values find the quiet moments;
//   --blas-core      the OPENBLAS_CORETYPE OpenBLAS (and PyTorch's OpenBLAS) runs with: auto (the
//                    default) picks SkylakeX on a CPU with AVX-512 and Haswell on one with AVX2, and
//                    restarts the benchmark with it if the environment says otherwise; keep leaves
//                    the environment alone; NAME forces that core;
//   --clock cpu      time the walk and the products by the process's CPU time per thread instead of
//                    the wall clock: on a busy machine, with OMP_NUM_THREADS=1, the time they ran;
//   --small-pages    keep every array on 4 KB pages (Linux: transparent huge pages off for this
//                    process), to see what 2 MB pages (large_pages.h) gain;
//   threads from OMP_NUM_THREADS; --quick skips the slow naive step; --no-torch skips PyTorch;
//   --only runs one section (and the peak measurement).
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
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

#include "chapters/05_gpt2_model/gpt2.h"
#include "chapters/05_gpt2_model/kv_cache.h"
#include "chapters/07_sampling/generate.h"
#include "chapters/08_cpu_parallel/adamw_fast.h"
#include "chapters/08_cpu_parallel/fast_backend.h"
#include "chapters/08_cpu_parallel/large_pages.h"
#include "chapters/08_cpu_parallel/weight_format_backend.h"

#ifdef GPT2_HAVE_OPENBLAS
#include <cblas.h>
extern "C" void openblas_set_num_threads(int);
extern "C" char* openblas_get_corename();
extern "C" char* openblas_get_config();
#endif

namespace {

using gpt2::Simd;
using gpt2::Timer;

// Debian's OpenBLAS built with OpenMP (libopenblas0-openmp): the build PyTorch is pointed at,
// and the one restart_with_blas_core puts first, and one whose threads share our OpenMP runtime (and its
// OMP_WAIT_POLICY).
constexpr const char* kOpenblasOpenmpDir = "/usr/lib/x86_64-linux-gnu/openblas-openmp";

std::vector<float> random_vector(size_t n, uint64_t seed) {
  gpt2::Rng rng(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = rng.uniform() * 2.0f - 1.0f;
  return v;
}

// The clock the matrix products are timed with (--clock): wall time, or the CPU time of the
// process divided by the thread count. On a machine shared with other work the CPU time leaves
// out the time this process waited for a core; with one thread it is the time the product itself
// ran. (With several threads it also counts threads spinning while they wait for each other.)
bool g_cpu_clock = false;
double cpu_clock_seconds(int threads) {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (t.tv_sec + 1e-9 * t.tv_nsec) / threads;
}

// Best time of `fn` over repeats taking at least `min_seconds` in total (at least 2 runs, the
// first one warms the caches and the thread pool and is not counted). `threads`: how many
// threads fn keeps busy (for the CPU clock), 0 meaning max_threads().
double g_min_seconds = 0.3;  // --min-seconds: how long to repeat each measurement
double best_seconds(const std::function<void()>& fn, double min_seconds = -1, int threads = 0) {
  if (min_seconds < 0) min_seconds = g_min_seconds;
  if (threads == 0) threads = gpt2::max_threads();
  fn();
  double best = 1e30, total = 0;
  int runs = 0;
  while (runs < 2 || total < min_seconds) {
    Timer t;
    const double cpu0 = g_cpu_clock ? cpu_clock_seconds(threads) : 0;
    fn();
    const double s = g_cpu_clock ? cpu_clock_seconds(threads) - cpu0 : t.seconds();
    best = std::min(best, s);
    total += s;
    ++runs;
  }
  return best;
}

// The 1-, 5- and 15-minute load averages: how busy the machine was (2 = both cores of a 2-core
// machine busy with other work).
std::string load_average() {
  FILE* f = std::fopen("/proc/loadavg", "r");
  if (!f) return "unknown";
  char line[128] = {0};
  const bool ok = std::fgets(line, sizeof line, f) != nullptr;
  std::fclose(f);
  double l1 = 0, l5 = 0, l15 = 0;
  if (!ok || std::sscanf(line, "%lf %lf %lf", &l1, &l5, &l15) != 3) return "unknown";
  char out[64];
  std::snprintf(out, sizeof out, "%.2f, %.2f, %.2f", l1, l5, l15);
  return out;
}

#ifdef GPT2_X86
// 12 independent chains of FMAs on registers: nothing but arithmetic, so this is the peak.
GPT2_TARGET_AVX2 double fma_loop_avx2(long iterations) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(static_cast<float>(i));
  const __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
  for (long it = 0; it < iterations; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], x, y);
  }
  __m256 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, acc[i]);
  return gpt2::horizontal_sum(s);
}

// The same with 16-float registers (12 chains: enough for two FMA units of 4 cycles' latency).
GPT2_TARGET_AVX512 double fma_loop_avx512(long iterations) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  const __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
  for (long it = 0; it < iterations; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_fmadd_ps(acc[i], x, y);
  }
  __m512 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, acc[i]);
  return gpt2::horizontal_sum(s);
}
#endif

// Measured fp32 peak of `threads` threads running the FMA loop of kernel set `simd`, in GFLOP/s
// (0 for the portable set, which has no such loop, or a set the CPU lacks).
double measure_peak_gflops(Simd simd, int threads) {
#ifdef GPT2_X86
  if (simd == Simd::portable || static_cast<int>(simd) > static_cast<int>(gpt2::detected_simd())) return 0;
  // About a millisecond per run: on a busy machine some runs fall between the other processes'
  // time slices, and the best run is the peak.
  const long iterations = 1'000'000;
  const int lanes = simd == Simd::avx512 ? 16 : 8;
  volatile double sink = 0;
  double seconds = best_seconds(
      [&] {
        gpt2::ScopedThreads scoped(threads);
#pragma omp parallel
        { sink = sink + (simd == Simd::avx512 ? fma_loop_avx512(iterations) : fma_loop_avx2(iterations)); }
      },
      0.5, threads);
  return 2.0 * lanes * 12 * iterations * threads / seconds / 1e9;
#else
  (void)simd;
  (void)threads;
  return 0;
#endif
}

// The vector kernel sets this CPU has, best last: avx2+fma, and avx512 where present.
std::vector<Simd> vector_sets() {
  std::vector<Simd> sets;
  for (Simd s : {Simd::avx2_fma, Simd::avx512}) {
    if (static_cast<int>(s) <= static_cast<int>(gpt2::detected_simd())) sets.push_back(s);
  }
  return sets;
}

// Runs fn with kernel set `simd`, then restores the previous one.
void with_simd(Simd simd, const std::function<void()>& fn) {
  const Simd saved = gpt2::active_simd();
  gpt2::set_simd(simd);
  fn();
  gpt2::set_simd(saved);
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

// Seconds of the best training step (forward, backward with zero_grad, AdamW) of `config` at
// B x T, per kernel set: `rounds` rounds after one warm-up round, each round one step on every set
// in turn, so that a busy moment of the machine hits all sets alike.
struct StepTimes {
  double forward = 1e30, backward = 1e30, adamw = 1e30, total = 1e30;
  double cpu = 1e30;  // CPU seconds of the whole process (all threads) for the best step
};
std::vector<StepTimes> time_training_steps(const gpt2::GPT2Config& config, int B, int T,
                                           gpt2::Backend& backend, const std::vector<Simd>& sets,
                                           int rounds) {
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
  std::vector<StepTimes> best(sets.size());
  int step = 0;
  for (int round = 0; round <= rounds; ++round) {
    for (size_t i = 0; i < sets.size(); ++i) {
      with_simd(sets[i], [&] {
        ++step;
        const double cpu0 = cpu_seconds();
        Timer t;
        model.forward(tokens.data(), targets.data(), B, T);
        const double f = t.seconds();
        model.zero_grad();
        model.backward();
        const double b = t.seconds();
        gpt2::adamw_update_fast(model.params().data(), model.grads().data(), m.data(), v.data(), n, step,
                                6e-4f, 0.9f, 0.95f, 1e-8f, 0.1f);
        const double total = t.seconds();
        if (round == 0) return;  // warm-up
        StepTimes& s = best[i];
        s.forward = std::min(s.forward, f);
        s.backward = std::min(s.backward, b - f);
        s.adamw = std::min(s.adamw, total - b);
        if (total < s.total) s.cpu = cpu_seconds() - cpu0;
        s.total = std::min(s.total, total);
      });
    }
  }
  return best;
}

// Runs the PyTorch twin of the training step; returns its seconds, or 0 when torch is missing.
// `blas` receives the OpenBLAS core PyTorch ran on (as the script reports it), `cpu` the least CPU
// time of a step (all threads), kept if smaller than the value it had.
double torch_step_seconds(int threads, const char* args, std::string& blas, double& cpu) {
  const std::string script = std::string(GPT2_CH08_SOURCE_DIR) + "/torch_train_step.py";
  // Debian's torch links libblas.so.3; point it at OpenBLAS's OpenMP build (libopenblas0-openmp)
  // when present.
  const std::string cmd = "LD_LIBRARY_PATH=" + std::string(kOpenblasOpenmpDir) + " /usr/bin/python3 " +
                          script + " " + std::to_string(threads) + " " + args + " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return 0;
  char line[256];
  double seconds = 0;
  while (std::fgets(line, sizeof line, p)) {
    std::sscanf(line, "torch_step_seconds %lf", &seconds);
    double c = 0;
    if (std::sscanf(line, "torch_step_cpu_seconds %lf", &c) == 1) cpu = std::min(cpu, c);
    char name[128];
    if (std::sscanf(line, "torch_blas %127[^\n]", name) == 1) blas = name;
  }
  pclose(p);
  return seconds;
}

// ---- The read bandwidth of the memory, and what a decode step must read.

// The sum of n floats with 4 x 8 independent partial sums: as fast as the memory delivers them.
#ifdef GPT2_X86
GPT2_TARGET_AVX2 float stream_sum_avx2(const float* x, size_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 32 <= n; i += 32) {
    a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
    a1 = _mm256_add_ps(a1, _mm256_loadu_ps(x + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_loadu_ps(x + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_loadu_ps(x + i + 24));
  }
  return gpt2::horizontal_sum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
}
#endif

float stream_sum(const float* x, size_t n) {
#ifdef GPT2_X86
  if (gpt2::detected_simd() != Simd::portable) return stream_sum_avx2(x, n);
#endif
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (size_t i = 0; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += x[i + j];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

// Read bandwidth in GB/s: every thread sums its part of `buffer` (much larger than the caches);
// the best of a few passes counts.
double read_bandwidth_gbs(const gpt2::LargeVector<float>& buffer) {
  volatile float sink = 0;
  const double seconds = best_seconds(
      [&] {
#pragma omp parallel
        {
          const size_t n = buffer.size(), nt = static_cast<size_t>(gpt2::team_size());
          const size_t t = static_cast<size_t>(gpt2::thread_rank());
          const size_t i0 = n * t / nt / 32 * 32, i1 = n * (t + 1) / nt / 32 * 32;
          sink = sink + stream_sum(buffer.data() + i0, i1 - i0);
        }
      },
      0.5);
  return static_cast<double>(buffer.size()) * sizeof(float) / seconds / 1e9;
}

// Bytes a decode step of `config` reads with its matrices in `format`: every converted matrix
// (weight_format_backend.h) in that format, the float biases and LayerNorm parameters, one row of
// wte and of wpe, and the keys and values of `cached` positions in every layer.
double decode_bytes(const gpt2::GPT2Config& config, gpt2::WeightFormat format, double cached) {
  const gpt2::ParameterLayout layout(config);
  double bytes = 0;
  for (const gpt2::ParamSpec& s : layout.specs()) {
    if (gpt2::is_converted_matrix(s)) {
      const double rows = s.name == "wte.weight" ? s.shape[0] : s.shape[1];
      const double cols = s.name == "wte.weight" ? s.shape[1] : s.shape[0];
      const double padded = rows * std::ceil(cols / gpt2::kQ8Block) * gpt2::kQ8Block;
      bytes += format == gpt2::WeightFormat::f32    ? 4 * rows * cols
               : format == gpt2::WeightFormat::bf16 ? 2 * rows * cols
                                                    : padded * (1 + 4.0 / gpt2::kQ8Block);
    } else if (s.name != "wpe.weight") {
      bytes += 4.0 * static_cast<double>(s.numel);
    }
  }
  bytes += 4.0 * 2 * config.n_embd;                            // the rows of wte and wpe
  bytes += 4.0 * 2 * config.n_layer * cached * config.n_embd;  // K and V
  return bytes;
}

// A prompt's prefill and `new_tokens` decode steps (greedy), timed by the benchmark's clock
// (--clock): the prefill's seconds and the decode steps per second.
struct DecodeTimes {
  double prefill_seconds = 0, tokens_per_sec = 0;
};
DecodeTimes time_decode(gpt2::GPT2& model, gpt2::KVCache& cache, const std::vector<int>& prompt,
                        int new_tokens) {
  const int threads = gpt2::max_threads();
  const Timer wall;
  auto now = [&] { return g_cpu_clock ? cpu_clock_seconds(threads) : wall.seconds(); };
  auto argmax = [](std::span<const float> logits) {
    return static_cast<int>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  };
  cache.clear();
  const double t0 = now();
  int next = argmax(model.forward(cache, prompt.data(), 1, static_cast<int>(prompt.size())));
  const double t1 = now();
  for (int i = 0; i < new_tokens; ++i) next = argmax(model.forward(cache, &next, 1, 1));
  const double t2 = now();
  return {t1 - t0, new_tokens / (t2 - t1)};
}

struct MatmulShape {
  const char* name;
  int M, N, K;
  bool ta, tb;  // op(A) = A^T, op(B) = B^T
};

#ifdef GPT2_HAVE_OPENBLAS
// What OPENBLAS_CORETYPE OpenBLAS should run with on this CPU for --blas-core auto: its AVX-512
// kernels on an AVX-512 CPU (OpenBLAS 0.3.21 does not know AMD Zen 4/5 by name and may fall back
// to older kernels), its AVX2 ones on an AVX2 CPU.
const char* auto_blas_core() {
  switch (gpt2::detected_simd()) {
    case Simd::avx512:
      return "SkylakeX";
    case Simd::avx2_fma:
      return "Haswell";
    case Simd::portable:
      break;
  }
  return nullptr;
}
#endif

// OpenBLAS reads OPENBLAS_CORETYPE when it is loaded, before main(): to change it, set it and
// start this program again (once; GPT2_BENCH_RESTARTED marks the second start), with OpenBLAS's
// OpenMP build first on the library path when it is installed.
void restart_with_blas_core(const std::string& choice, char** argv) {
#ifdef GPT2_HAVE_OPENBLAS
  if (choice == "keep" || std::getenv("GPT2_BENCH_RESTARTED")) return;
  const char* want = choice == "auto" ? auto_blas_core() : choice.c_str();
  if (!want) return;
  const char* have = std::getenv("OPENBLAS_CORETYPE");
  setenv("OPENBLAS_CORETYPE", want, 1);
  unsetenv("OPENBLAS_L2_SIZE");  // let OpenBLAS measure the cache for the core it was given
  if (access((std::string(kOpenblasOpenmpDir) + "/libopenblas.so.0").c_str(), R_OK) == 0) {
    const char* path = std::getenv("LD_LIBRARY_PATH");
    setenv("LD_LIBRARY_PATH",
           (std::string(kOpenblasOpenmpDir) + (path ? ":" + std::string(path) : "")).c_str(), 1);
  }
  setenv("GPT2_BENCH_RESTARTED", "1", 1);
  std::fflush(stdout);
  execv("/proc/self/exe", argv);
  std::fprintf(stderr, "ch08_bench: could not restart with OPENBLAS_CORETYPE=%s; going on with %s\n", want,
               have ? have : "OpenBLAS's own choice");
#else
  (void)choice;
  (void)argv;
#endif
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false, torch = true;
  int rounds = 3;
  std::string only, blas_core = "auto";
  // Chapter 12's default training shape (4 layers, 4 heads, 128 channels, context 256, batch 8)
  // with a 1024-token vocabulary.
  std::string main_job = "4,4,128,1024,8,256";
  const char* usage =
      "usage: ch08_bench [--quick] [--no-torch] [--only walk|shapes|step|gen|main|formats]\n"
      "                  [--main-job L,NH,C,V,B,T] [--min-seconds S] [--rounds R]\n"
      "                  [--blas-core auto|keep|NAME] [--clock wall|cpu] [--small-pages]\n"
      "(the options are described at the top of chapters/08_cpu_parallel/bench.cpp)\n";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--help" || arg == "-h") {
      std::fputs(usage, stdout);
      return 0;
    } else if (arg == "--quick") {
      quick = true;
    } else if (arg == "--no-torch") {
      torch = false;
    } else if (arg == "--only" && has_value) {
      only = argv[++i];
    } else if (arg == "--main-job" && has_value) {
      main_job = argv[++i];
    } else if (arg == "--min-seconds" && has_value) {
      g_min_seconds = std::atof(argv[++i]);
    } else if (arg == "--rounds" && has_value) {
      rounds = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--blas-core" && has_value) {
      blas_core = argv[++i];
    } else if (arg == "--clock" && has_value) {
      g_cpu_clock = std::strcmp(argv[++i], "cpu") == 0;
    } else if (arg == "--small-pages") {
      // The kernel then ignores large_pages.h's advice: every array on 4 KB pages.
      if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) != 0) std::perror("ch08_bench: --small-pages");
    } else {
      std::fprintf(stderr, "ch08_bench: unknown argument '%s' (or it misses its value)\n%s", argv[i], usage);
      return 2;
    }
  }
  const std::vector<std::string> sections = {"walk", "shapes", "step", "gen", "main", "formats"};
  if (!only.empty() && std::find(sections.begin(), sections.end(), only) == sections.end()) {
    std::fprintf(stderr, "ch08_bench: --only wants one of walk, shapes, step, gen, main, formats; got '%s'\n",
                 only.c_str());
    return 2;
  }
  restart_with_blas_core(blas_core, argv);
  auto run = [&](const char* section) { return only.empty() || only == section; };
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // line by line, also into a pipe
  const int threads = gpt2::max_threads();
  const std::vector<Simd> sets = vector_sets();
  std::printf(
      "ch08_bench: %d thread(s), kernel set in use %s (this CPU has %s), load average %s, %s clock%s\n",
      threads, gpt2::simd_name(gpt2::active_simd()), gpt2::simd_name(gpt2::detected_simd()),
      load_average().c_str(), g_cpu_clock ? "CPU" : "wall",
      prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) == 1 ? ", 4 KB pages only (--small-pages)" : "");
#ifdef GPT2_HAVE_OPENBLAS
  const char* l2 = std::getenv("OPENBLAS_L2_SIZE");
  std::printf("OpenBLAS: core %s, %s (OPENBLAS_CORETYPE=%s%s%s)\n", openblas_get_corename(),
              openblas_get_config(),
              std::getenv("OPENBLAS_CORETYPE") ? std::getenv("OPENBLAS_CORETYPE") : "unset",
              l2 ? ", OPENBLAS_L2_SIZE=" : "", l2 ? l2 : "");
#else
  std::printf(
      "OpenBLAS: not compared (this ch08_bench was built without it: install libopenblas-dev and "
      "libopenblas0-openmp as chapter 08's README says, then configure and build again)\n");
#endif
  // Peaks, per kernel set: [set] = {1 thread, all threads}.
  double peak1[3] = {0, 0, 0}, peak[3] = {0, 0, 0};
  for (Simd s : sets) {
    peak1[static_cast<int>(s)] = measure_peak_gflops(s, 1);
    peak[static_cast<int>(s)] = measure_peak_gflops(s, threads);
    std::printf("measured fp32 peak of %s (FMA-only loop): %.1f GFLOP/s on 1 thread, %.1f on %d\n",
                gpt2::simd_name(s), peak1[static_cast<int>(s)], peak[static_cast<int>(s)], threads);
  }
  std::printf("\n");
  auto peak_of = [&](Simd s, bool one_thread) { return (one_thread ? peak1 : peak)[static_cast<int>(s)]; };
  auto percent = [](double gflops, double of) { return of > 0 ? 100 * gflops / of : 0.0; };

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
      Simd peak_set;  // the peak the step is measured against
      bool one_thread;
    };
    const Simd best = gpt2::active_simd() == Simd::portable ? Simd::avx2_fma : gpt2::active_simd();
    const Step steps[] = {
        {"1 naive i-j-k", gpt2::matmul_naive, true, Simd::avx2_fma, true},
        {"2 loop order i-k-j", gpt2::matmul_loop_order, false, Simd::avx2_fma, true},
        {"3 cache blocking", gpt2::matmul_blocked, false, Simd::avx2_fma, true},
        {"4 packing + 6x16 micro-kernel, portable", gpt2::matmul_packed_portable, false, Simd::avx2_fma,
         true},
        {"5 packing + 6x16 micro-kernel, AVX2+FMA", gpt2::matmul_packed_avx2, false, Simd::avx2_fma, true},
        {"5b packing + 6x32 micro-kernel, AVX-512", gpt2::matmul_packed_avx512, false, Simd::avx512, true},
        {"6 the best micro-kernel on all threads (OpenMP)", gpt2::matmul_parallel, false, best, false},
    };
    std::printf("The walk: out (%d x %d) = a (%d x %d) @ b (%d x %d)\n", M, N, M, K, K, N);
    std::printf("| step | ms | GFLOP/s | %% of peak | peak (GFLOP/s) |\n|---|---:|---:|---:|---:|\n");
    for (const Step& s : steps) {
      if (quick && s.slow) continue;
      if (s.peak_set == Simd::avx512 && gpt2::detected_simd() != Simd::avx512) continue;
      const double sec = best_seconds([&] { s.fn(out.data(), a.data(), b.data(), M, K, N); },
                                      s.slow ? 0 : 0.3, s.one_thread ? 1 : threads);
      const double gf = flop / sec / 1e9, pk = peak_of(s.peak_set, s.one_thread);
      std::printf("| %s | %.2f | %.1f | %.0f%% | %.0f (%s, %s) |\n", s.name, sec * 1e3, gf, percent(gf, pk),
                  pk, gpt2::simd_name(s.peak_set), s.one_thread ? "1 thread" : "all threads");
    }
    std::printf("(steps 1-5b on one thread)\n\n");
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
    const bool blas = true;
    const char* blas_core = openblas_get_corename();
#else
    const bool blas = false;
    const char* blas_core = "";
#endif
    std::printf(
        "GPT-2 124M matrix products, B*T = %d, %d thread(s), GFLOP/s (%% of the kernel set's peak)%s\n", BT,
        threads, blas ? ", OpenBLAS beside them" : "");
    std::printf("| product | M | N | K |");
    for (Simd s : sets) std::printf(" %s |", gpt2::simd_name(s));
    if (blas) std::printf(" OpenBLAS %s | ours / OpenBLAS |", blas_core);
    std::printf("\n|---|---:|---:|---:|");
    for (size_t i = 0; i < sets.size() + (blas ? 2 : 0); ++i) std::printf("---:|");
    std::printf("\n");
    std::vector<double> set_flop_sec(sets.size(), 0.0);
    double total_flop = 0, blas_sec_total = 0, worst_ratio = 1e30, worst_percent = 1e30;
    for (const MatmulShape& s : shapes) {
      const size_t a_rows = s.ta ? s.K : s.M, a_cols = s.ta ? s.M : s.K;
      const size_t b_rows = s.tb ? s.N : s.K, b_cols = s.tb ? s.K : s.N;
      // On 2 MB pages, as the model's parameters, gradients and activations are (large_pages.h), for
      // both libraries.
      const auto a0 = random_vector(a_rows * a_cols, 3), b0 = random_vector(b_rows * b_cols, 4);
      const gpt2::LargeVector<float> a(a0.begin(), a0.end()), b(b0.begin(), b0.end());
      gpt2::LargeVector<float> c(static_cast<size_t>(s.M) * s.N), c_blas(c.size());
      const gpt2::MatRef A{a.data(), static_cast<int>(a_cols), s.ta},
          B{b.data(), static_cast<int>(b_cols), s.tb};
      const double flop = 2.0 * s.M * s.N * s.K;
      std::vector<double> sec(sets.size(), 1e30);
      double blas_sec = 1e30;
      for (int round = 0; round < rounds; ++round) {  // in turns: ours on each set, then OpenBLAS
        for (size_t i = 0; i < sets.size(); ++i) {
          with_simd(sets[i], [&] {
            sec[i] = std::min(sec[i], best_seconds([&] {
                                gpt2::gemm(s.M, s.N, s.K, A, B, c.data(), s.N, false, nullptr);
                              }));
          });
        }
#ifdef GPT2_HAVE_OPENBLAS
        blas_sec = std::min(blas_sec, best_seconds([&] {
                              cblas_sgemm(CblasRowMajor, s.ta ? CblasTrans : CblasNoTrans,
                                          s.tb ? CblasTrans : CblasNoTrans, s.M, s.N, s.K, 1.0f, a.data(),
                                          static_cast<int>(a_cols), b.data(), static_cast<int>(b_cols), 0.0f,
                                          c_blas.data(), s.N);
                            }));
#endif
      }
      total_flop += flop;
      std::printf("| %s | %d | %d | %d |", s.name, s.M, s.N, s.K);
      for (size_t i = 0; i < sets.size(); ++i) {
        const double gf = flop / sec[i] / 1e9;
        set_flop_sec[i] += sec[i];
        std::printf(" %.1f (%.0f%%) |", gf, percent(gf, peak_of(sets[i], threads == 1)));
      }
      if (blas) {
        // A fair comparison needs a right answer: check OpenBLAS's product against ours.
        double worst = 0, scale = 0;
        for (size_t i = 0; i < c.size(); ++i) {
          worst = std::max(worst, static_cast<double>(std::fabs(c[i] - c_blas[i])));
          scale = std::max(scale, static_cast<double>(std::fabs(c[i])));
        }
        const double ratio = blas_sec / sec.back();
        worst_ratio = std::min(worst_ratio, ratio);
        blas_sec_total += blas_sec;
        std::printf(" %.1f%s | %.2f |", flop / blas_sec / 1e9, worst > 1e-3 * scale ? " (WRONG RESULT)" : "",
                    ratio);
      }
      worst_percent =
          std::min(worst_percent, percent(flop / sec.back() / 1e9, peak_of(sets.back(), threads == 1)));
      std::printf("\n");
    }
    for (size_t i = 0; i < sets.size(); ++i) {
      std::printf("all products, %s: %.1f GFLOP/s (%.0f%% of its peak)\n", gpt2::simd_name(sets[i]),
                  total_flop / set_flop_sec[i] / 1e9,
                  percent(total_flop / set_flop_sec[i] / 1e9, peak_of(sets[i], threads == 1)));
    }
    if (blas) {
      std::printf(
          "all products, OpenBLAS: %.1f GFLOP/s; %s / OpenBLAS: %.2f overall, %.2f on the worst shape\n",
          total_flop / blas_sec_total / 1e9, gpt2::simd_name(sets.back()),
          blas_sec_total / set_flop_sec.back(), worst_ratio);
    }
    std::printf("worst shape on %s: %.0f%% of its peak; load average now %s\n\n",
                gpt2::simd_name(sets.back()), worst_percent, load_average().c_str());
  }

  // ---- 4. The training step of GPT-2 124M, B = 4, T = 64.
  if (run("step")) {
    const int B = 4, T = 64;
    const gpt2::GPT2Config config = gpt2::GPT2Config::from_name("gpt2");
    const char* torch_args = "4 64 12 12 768 50257";
    std::string torch_blas = "?";
    double torch_cpu = 1e30;
    double torch_s = torch ? torch_step_seconds(threads, torch_args, torch_blas, torch_cpu) : 0;
    gpt2::FastCpuBackend fast;
    const std::vector<StepTimes> st = time_training_steps(config, B, T, fast, sets, rounds);
    if (torch_s > 0)
      torch_s = std::min(torch_s, torch_step_seconds(threads, torch_args, torch_blas, torch_cpu));
    std::printf(
        "GPT-2 124M training step, B = %d, T = %d, %d thread(s), fast kernels, best of %d in turns:\n", B, T,
        threads, rounds);
    for (size_t i = 0; i < sets.size(); ++i) {
      std::printf("  %-8s forward %.3f s, backward %.3f s, AdamW %.3f s: step %.3f s (%.0f tokens/s)\n",
                  gpt2::simd_name(sets[i]), st[i].forward, st[i].backward, st[i].adamw, st[i].total,
                  B * T / st[i].total);
      // On a shared machine the wall time includes the time the threads were descheduled; the CPU
      // time does not. With OMP_WAIT_POLICY=passive (no spinning) CPU time / threads is about what
      // the step takes on an idle machine, if the threads are well balanced.
      std::printf("           CPU time of the step: %.3f s over %d thread(s), %.3f s per thread\n", st[i].cpu,
                  threads, st[i].cpu / threads);
    }
    std::printf("  peak memory %.0f MB\n", peak_rss_mb());
    if (torch) {
      if (torch_s > 0) {
        std::printf(
            "  PyTorch (same step, %d thread(s), %s, best of 2 x 3): %.3f s, PyTorch / ours (%s) = "
            "%.2f\n",
            threads, torch_blas.c_str(), torch_s, gpt2::simd_name(sets.back()), torch_s / st.back().total);
        if (torch_cpu < 1e30) {
          std::printf(
              "           CPU time of its step: %.3f s over %d thread(s), %.3f s per thread (ours: %.3f)\n",
              torch_cpu, threads, torch_cpu / threads, st.back().cpu / threads);
        }
      } else {
        std::printf("  PyTorch: not available (/usr/bin/python3 with torch)\n");
      }
    }
    std::printf("  load average now %s\n\n", load_average().c_str());
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
    const StepTimes f = time_training_steps(config, B, T, fast, {gpt2::active_simd()}, 5).front();
    const StepTimes p = time_training_steps(config, B, T, plain, {gpt2::active_simd()}, 1).front();
    std::printf("Main job shape (L=%d NH=%d C=%d V=%d, B=%d T=%d), %d thread(s):\n", L, NH, C, V, B, T,
                threads);
    std::printf("  fast kernels (%s):  step %.4f s, %.0f tokens/s\n", gpt2::simd_name(gpt2::active_simd()),
                f.total, B * T / f.total);
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

  // ---- 7. Weight formats: the same generation as 5 with the matrices in float32, bf16 and q8, in
  // turns with the bandwidth measurement, so that a busy moment slows all of them alike.
  if (run("formats")) {
    const gpt2::GPT2Config config = gpt2::GPT2Config::from_name("gpt2");
    struct Format {
      const char* name;
      gpt2::WeightFormat format;
      gpt2::Q8Activations activations;
      bool one_copy;  // float32 on FastCpuBackend, without the tiled decode copy
      std::unique_ptr<gpt2::Backend> backend;
      std::unique_ptr<gpt2::GPT2> model;
      std::unique_ptr<gpt2::KVCache> cache;
      double tokens_per_sec = 0, prefill = 1e30;
    };
    std::vector<Format> formats;
    formats.push_back({"float32", gpt2::WeightFormat::f32, gpt2::Q8Activations::f32, false, {}, {}, {}});
    formats.push_back(
        {"float32, no decode copy", gpt2::WeightFormat::f32, gpt2::Q8Activations::f32, true, {}, {}, {}});
    formats.push_back({"bf16", gpt2::WeightFormat::bf16, gpt2::Q8Activations::f32, false, {}, {}, {}});
    formats.push_back(
        {"q8, activations float", gpt2::WeightFormat::q8, gpt2::Q8Activations::f32, false, {}, {}, {}});
    formats.push_back(
        {"q8, activations q8", gpt2::WeightFormat::q8, gpt2::Q8Activations::q8, false, {}, {}, {}});
    for (Format& f : formats) {
      if (f.one_copy) {
        f.backend = std::make_unique<gpt2::FastCpuBackend>();
      } else {
        f.backend = std::make_unique<gpt2::WeightFormatBackend>(f.format, f.activations);
      }
      f.model = std::make_unique<gpt2::GPT2>(config, *f.backend);
      f.model->init_random(1337);
      if (auto* converting = dynamic_cast<gpt2::WeightFormatBackend*>(f.backend.get())) {
        converting->convert_weights(*f.model);
      }
      f.cache = std::make_unique<gpt2::KVCache>(config, *f.backend, 1, 128);
    }
    std::vector<int> prompt(16);
    for (int i = 0; i < 16; ++i) prompt[i] = 1000 + 37 * i;
    const int new_tokens = 64;
    // 1 GB, far larger than the caches, on 2 MB pages like the weights (large_pages.h)
    const gpt2::LargeVector<float> buffer(size_t{1} << 28, 1.0f);
    double bandwidth = 0;
    std::printf(
        "Weight formats: GPT-2 124M generation, KV cache, batch 1, prompt 16 tokens, %d new, %d thread(s), "
        "%d rounds, kernel set %s%s, %s clock\n",
        new_tokens, threads, rounds, gpt2::simd_name(gpt2::active_simd()),
        gpt2::cpu_has_avx512_vnni() ? " (with VNNI)" : "", g_cpu_clock ? "CPU" : "wall");
    for (int round = 0; round <= rounds; ++round) {  // round 0 warms up
      const double bw = read_bandwidth_gbs(buffer);
      if (round > 0) bandwidth = std::max(bandwidth, bw);
      for (Format& f : formats) {
        const DecodeTimes d = time_decode(*f.model, *f.cache, prompt, new_tokens);
        if (round == 0) continue;
        f.tokens_per_sec = std::max(f.tokens_per_sec, d.tokens_per_sec);
        f.prefill = std::min(f.prefill, d.prefill_seconds);
      }
    }
    const double cached = prompt.size() + new_tokens / 2.0;  // positions a decode step reads, on average
    std::printf("  read bandwidth (sum of a 1 GB buffer on %d thread(s), best of %d): %.1f GB/s\n", threads,
                rounds, bandwidth);
    std::printf("  memory on 2 MB pages (large_pages.h): %.0f MB of this process's\n",
                static_cast<double>(gpt2::huge_page_bytes()) / 1e6);
    std::printf(
        "| weights | MB read per token | tokens/s | GB/s | %% of bandwidth | vs float32 | prefill s |\n"
        "|---|---:|---:|---:|---:|---:|---:|\n");
    const double f32_speed = formats.front().tokens_per_sec;
    for (const Format& f : formats) {
      const double bytes = decode_bytes(config, f.format, cached);
      const double gbs = bytes * f.tokens_per_sec / 1e9;
      std::printf("| %s | %.0f | %.1f | %.1f | %.0f%% | %.2fx | %.3f |\n", f.name, bytes / 1e6,
                  f.tokens_per_sec, gbs, 100 * gbs / bandwidth, f.tokens_per_sec / f32_speed, f.prefill);
    }
    std::printf("  load average now %s\n\n", load_average().c_str());
  }
  return 0;
}
