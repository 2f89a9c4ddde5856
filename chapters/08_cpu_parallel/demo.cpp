// ch08_demo: the speed-up of every fast kernel over chapter 05's plain one, operation by
// operation, on the shapes of one GPT-2 124M layer at B = 4, T = 64, through the two backends
// the model can run on (CpuBackend and FastCpuBackend), plus AdamW against chapter 06's.
//
// Usage: OMP_NUM_THREADS=2 ./build/bin/ch08_demo
#include <algorithm>
#include <cstdio>
#include <functional>
#include <vector>

#include "chapters/05_gpt2_model/backend.h"
#include "chapters/06_training/adamw.h"
#include "chapters/08_cpu_parallel/adamw_fast.h"
#include "chapters/08_cpu_parallel/fast_backend.h"
#include "chapters/08_cpu_parallel/parallel.h"
#include "chapters/08_cpu_parallel/simd.h"
#include "common/rng.h"
#include "common/timer.h"

namespace {

std::vector<float> random_vector(size_t n, uint64_t seed) {
  gpt2::Rng rng(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = 2.0f * rng.uniform() - 1.0f;
  return v;
}

// Best of `runs` timings, in milliseconds.
double best_ms(const std::function<void()>& fn, int runs) {
  double best = 1e30;
  for (int r = 0; r < runs; ++r) {
    gpt2::Timer t;
    fn();
    best = std::min(best, t.seconds() * 1e3);
  }
  return best;
}

}  // namespace

int main() {
  const int B = 4, T = 64, C = 768, NH = 12, V = 50257, N = B * T;
  std::printf("ch08_demo: one GPT-2 124M layer at B = %d, T = %d; %d thread(s), SIMD %s\n\n", B, T,
              gpt2::max_threads(), gpt2::simd_name(gpt2::active_simd()));
  gpt2::CpuBackend plain;
  gpt2::FastCpuBackend fast;

  const auto x = random_vector(static_cast<size_t>(N) * 4 * C, 1),
             w = random_vector(static_cast<size_t>(4) * C * C, 2);
  const auto bias = random_vector(4 * C, 3), dout = random_vector(static_cast<size_t>(N) * 4 * C, 4);
  const auto qkv = random_vector(static_cast<size_t>(N) * 3 * C, 5);
  const auto logits = random_vector(static_cast<size_t>(N) * V, 6);
  std::vector<float> out(static_cast<size_t>(N) * V), out2(out.size()), dx(static_cast<size_t>(N) * 4 * C);
  std::vector<float> dw(static_cast<size_t>(4) * C * C), db(4 * C), qkvh(static_cast<size_t>(3) * N * C);
  std::vector<float> att(static_cast<size_t>(B) * NH * T * T), mean(N), rstd(N), losses(N), lse(N);
  std::vector<int> targets(N);
  for (int i = 0; i < N; ++i) targets[i] = (i * 7919) % V;

  struct Op {
    const char* name;
    std::function<void(gpt2::Backend&)> run;
  };
  const Op ops[] = {
      {"linear forward   (256 x 768) @ (768 x 3072)",
       [&](gpt2::Backend& be) {
         be.linear_forward(out.data(), x.data(), w.data(), bias.data(), N, C, 4 * C);
       }},
      {"linear backward  (256 x 768) @ (768 x 3072)",
       [&](gpt2::Backend& be) {
         be.linear_backward(dx.data(), dw.data(), db.data(), dout.data(), x.data(), w.data(), N, C, 4 * C);
       }},
      {"attention forward  (B, NH, T, HS) = (4, 12, 64, 64)",
       [&](gpt2::Backend& be) {
         be.attention_forward(out.data(), qkvh.data(), att.data(), qkv.data(), B, T, C, NH);
       }},
      {"attention backward",
       [&](gpt2::Backend& be) {
         be.attention_backward(out2.data(), dout.data(), qkvh.data(), att.data(), B, T, C, NH);
       }},
      {"layernorm forward  (256 x 768)",
       [&](gpt2::Backend& be) {
         be.layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), w.data(), bias.data(), N, C,
                              1e-5f);
       }},
      {"layernorm backward",
       [&](gpt2::Backend& be) {
         be.layernorm_backward(dx.data(), dw.data(), db.data(), dout.data(), x.data(), w.data(), mean.data(),
                               rstd.data(), N, C);
       }},
      {"gelu forward       (256 x 3072)",
       [&](gpt2::Backend& be) { be.gelu_forward(out.data(), x.data(), N * 4 * C); }},
      {"gelu backward",
       [&](gpt2::Backend& be) { be.gelu_backward(dx.data(), x.data(), dout.data(), N * 4 * C); }},
      {"cross-entropy forward  (256 x 50257)",
       [&](gpt2::Backend& be) {
         be.cross_entropy_forward(losses.data(), lse.data(), logits.data(), targets.data(), N, V);
       }},
      {"cross-entropy backward",
       [&](gpt2::Backend& be) {
         be.cross_entropy_backward(out.data(), logits.data(), lse.data(), targets.data(), 1.0f / N, N, V);
       }},
  };
  std::printf("| operation | plain ms | fast ms | speed-up |\n|---|---:|---:|---:|\n");
  for (const Op& op : ops) {
    const double p = best_ms([&] { op.run(plain); }, 1);
    const double f = best_ms([&] { op.run(fast); }, 5);
    std::printf("| %s | %.2f | %.3f | %.0fx |\n", op.name, p, f, p / f);
  }
  {
    const size_t n = 10'000'000;  // AdamW over 10M parameters (GPT-2 124M has 124M)
    auto param = random_vector(n, 7), m = random_vector(n, 8), v = random_vector(n, 9);
    for (auto& e : v) e = e * e;
    const auto grad = random_vector(n, 10);
    const double p = best_ms(
        [&] {
          gpt2::adamw_update(param.data(), grad.data(), m.data(), v.data(), n, 1, 6e-4f, 0.9f, 0.95f, 1e-8f,
                             0.1f);
        },
        2);
    const double f = best_ms(
        [&] {
          gpt2::adamw_update_fast(param.data(), grad.data(), m.data(), v.data(), n, 1, 6e-4f, 0.9f, 0.95f,
                                  1e-8f, 0.1f);
        },
        3);
    std::printf("| AdamW (10M parameters) | %.2f | %.3f | %.1fx |\n", p, f, p / f);
  }
  std::printf(
      "\n(plain: one run; fast: best of several. The plain AdamW of chapter 06 is already parallel.)\n");
  return 0;
}
