// ch09_bench: the chapter's kernels timed on the GPU, each first checked against the CPU, then a
// GPT-2 124M training step at T = 1024 against PyTorch eager fp32 (TF32 off and on).
//
//   ch09_bench [--batch B] [--steps N] [--no-torch]
//
// Without a usable GPU it prints why and exits with 77 (like the tests).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "chapters/03_attention/attention.h"
#include "chapters/04_transformer_block/linear.h"
#include "chapters/05_gpt2_model/gpt2.h"
#include "chapters/05_gpt2_model/kv_cache.h"
#include "chapters/06_training/adamw.h"
#include "chapters/06_training/gpt2_trainable.h"
#include "chapters/06_training/trainer.h"
#include "chapters/07_sampling/generate.h"
#include "chapters/09_cuda/attention_steps.h"
#include "chapters/09_cuda/cuda_backend.h"
#include "chapters/09_cuda/cuda_check.h"
#include "chapters/09_cuda/device.h"
#include "chapters/09_cuda/kernels.h"
#include "chapters/09_cuda/matmul_steps.h"
#include "common/error.h"
#include "common/rng.h"
#include "common/testing.h"
#include "common/timer.h"

namespace {

using gpt2::cuda::DeviceArray;

std::vector<float> random_floats(size_t n, uint64_t seed) {
  std::vector<float> x(n);
  gpt2::Rng rng(seed);
  rng.fill_normal(x, 0.0f, 1.0f);
  return x;
}

// Best time of `repeats` runs of fn (after one warm-up run), measured with CUDA events: the
// time the GPU spent between the two events, not the time the host took to queue the work.
double best_gpu_seconds(const std::function<void()>& fn, int repeats = 5) {
  cudaEvent_t start, stop;
  GPT2_CUDA_CHECK(cudaEventCreate(&start));
  GPT2_CUDA_CHECK(cudaEventCreate(&stop));
  fn();
  float best_ms = 1e30f;
  for (int r = 0; r < repeats; ++r) {
    GPT2_CUDA_CHECK(cudaEventRecord(start));
    fn();
    GPT2_CUDA_CHECK(cudaEventRecord(stop));
    GPT2_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0;
    GPT2_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    best_ms = std::min(best_ms, ms);
  }
  GPT2_CUDA_CHECK(cudaEventDestroy(start));
  GPT2_CUDA_CHECK(cudaEventDestroy(stop));
  return best_ms * 1e-3;
}

const char* verdict(const gpt2::CloseResult& r) {
  return r.ok ? "ok" : "MISMATCH";
}

// ---- matrix multiply: out (N, OC) = inp (N, C) @ W (C, OC) + b, GPT-2's MLP c_fc at B T = 4096 ---
void bench_matmul(gpt2::CudaBackend& be) {
  const int N = 4096, C = 768, OC = 3072, check_rows = 32;
  const auto inp = random_floats(static_cast<size_t>(N) * C, 1),
             w = random_floats(static_cast<size_t>(C) * OC, 2), b = random_floats(static_cast<size_t>(OC), 3);
  DeviceArray<float> d_inp{std::span<const float>(inp)}, d_w{std::span<const float>(w)},
      d_b{std::span<const float>(b)}, d_out(static_cast<size_t>(N) * OC);
  // The CPU reference for the first rows only (the whole product would take the CPU seconds).
  std::vector<float> ref(static_cast<size_t>(check_rows) * OC);
  gpt2::linear_forward(ref.data(), inp.data(), w.data(), b.data(), check_rows, C, OC);
  const double flops = 2.0 * N * C * OC;
  std::printf("\nmatmul (N, C, OC) = (%d, %d, %d), %.1f GFLOP, checked against chapter 04 on %d rows\n", N, C,
              OC, flops * 1e-9, check_rows);
  std::printf("  %-22s %10s %10s  %s\n", "version", "ms", "TFLOP/s", "max rel. error");
  struct Version {
    const char* name;
    std::function<void()> run;
  };
  const std::vector<Version> versions = {
      {"1 naive",
       [&] { gpt2::cuda::matmul_naive(d_out.get(), d_inp.get(), d_w.get(), d_b.get(), N, C, OC); }},
      {"2 shared-memory tiled",
       [&] { gpt2::cuda::matmul_tiled(d_out.get(), d_inp.get(), d_w.get(), d_b.get(), N, C, OC); }},
      {"cuBLAS fp32",
       [&] {
         be.set_tf32(false);
         be.linear_forward(d_out.get(), d_inp.get(), d_w.get(), d_b.get(), N, C, OC);
       }},
      {"cuBLAS TF32",
       [&] {
         be.set_tf32(true);
         be.linear_forward(d_out.get(), d_inp.get(), d_w.get(), d_b.get(), N, C, OC);
       }},
  };
  for (const Version& v : versions) {
    d_out.poison();
    v.run();
    std::vector<float> got = d_out.download();
    got.resize(ref.size());
    const gpt2::CloseResult r = gpt2::rel_close(got, ref, 1e-4, v.name);
    const double s = best_gpu_seconds(v.run);
    std::printf("  %-22s %10.3f %10.2f  %.2e %s\n", v.name, s * 1e3, flops / s * 1e-12, r.max_rel_error,
                verdict(r));
  }
  be.set_tf32(false);
}

// ---- causal attention forward, GPT-2 small's heads: (B, NH, T, HS) = (4, 12, 1024, 64) -------
void bench_attention(gpt2::CudaBackend& be) {
  const int B = 4, NH = 12, T = 1024, HS = 64, C = NH * HS;
  const size_t n = static_cast<size_t>(B) * NH * T * HS, att_n = static_cast<size_t>(B) * NH * T * T;
  const auto qkv_heads = random_floats(3 * n, 4);  // q | k | v, each (B, NH, T, HS)
  const auto qkv = random_floats(3 * n, 5);        // (B, T, 3C) for the backend's version
  DeviceArray<float> d_heads{std::span<const float>(qkv_heads)}, d_qkv{std::span<const float>(qkv)}, d_out(n),
      d_att(att_n), d_qkvh(3 * n), d_lse(static_cast<size_t>(B) * NH * T);
  // CPU reference for the first head (b = 0, h = 0) of the q, k, v heads.
  std::vector<float> ref(static_cast<size_t>(T) * HS), ref_att(static_cast<size_t>(T) * T);
  gpt2::attention_forward(ref.data(), ref_att.data(), qkv_heads.data(), qkv_heads.data() + n,
                          qkv_heads.data() + 2 * n, 1, 1, T, HS, true);
  const double flops = 4.0 * B * NH * (0.5 * T * T) * HS;  // two products, causal half
  std::printf("\ncausal attention forward (B, NH, T, HS) = (%d, %d, %d, %d), checked on head 0\n", B, NH, T,
              HS);
  std::printf("  %-30s %10s  %s\n", "version", "ms", "max rel. error");
  const float* q = d_heads.get();
  struct Version {
    const char* name;
    std::function<void()> run;
    bool checkable;
  };
  const std::vector<Version> versions = {
      {"1 naive (one thread per row)",
       [&] { gpt2::cuda::attention_naive(d_out.get(), d_att.get(), q, q + n, q + 2 * n, B, NH, T, HS); },
       true},
      {"2 flash (online softmax)",
       [&] { gpt2::cuda::attention_flash(d_out.get(), d_lse.get(), q, q + n, q + 2 * n, B, NH, T, HS); },
       true},
      {"model: cuBLAS + softmax",
       [&] { be.attention_forward(d_out.get(), d_qkvh.get(), d_att.get(), d_qkv.get(), B, T, C, NH); },
       false},
  };
  for (const Version& v : versions) {
    d_out.poison();
    v.run();
    const double s = best_gpu_seconds(v.run);
    if (v.checkable) {
      std::vector<float> got = d_out.download();
      got.resize(ref.size());
      const gpt2::CloseResult r = gpt2::rel_close(got, ref, 1e-4, v.name);
      std::printf("  %-30s %10.3f  %.2e %s  (%.2f TFLOP/s)\n", v.name, s * 1e3, r.max_rel_error, verdict(r),
                  flops / s * 1e-12);
    } else {
      std::printf("  %-30s %10.3f  (checked by test_09_cuda; includes the head split and merge)\n", v.name,
                  s * 1e3);
    }
  }
}

// ---- GPT-2 124M training step at T = 1024 -------------------------------------------------------
void bench_training_step(gpt2::CudaBackend& be, int B, int steps, bool torch) {
  const int T = 1024;
  const gpt2::GPT2Config config = gpt2::GPT2Config::from_name("gpt2");
  if (B == 0) {
    // The largest power-of-two batch whose training memory fits in 80% of the GPU (at most 32:
    // at B = 64 the logits, B T V floats, no longer fit the ops' int sizes).
    size_t free_bytes = 0, total_bytes = 0;
    GPT2_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    B = 1;
    for (int b = 32; b >= 1; b /= 2) {
      if (static_cast<double>(gpt2::memory_report(config, b, T).training_bytes()) < 0.8 * free_bytes) {
        B = b;
        break;
      }
    }
  }
  std::printf("\nGPT-2 124M training step, B = %d, T = %d (%s)\n", B, T, be.tf32() ? "TF32" : "fp32");
  gpt2::GPT2 model(config, be);
  model.init_random(1337);
  gpt2::Gpt2Trainable trainable(model);  // training mode: the gradients, on the GPU
  gpt2::AdamW adamw(be, model.params().size(), gpt2::decay_ranges(trainable.param_infos()), {});
  std::vector<int> tokens(static_cast<size_t>(B) * T), targets(tokens.size());
  gpt2::Rng rng(1);
  for (size_t i = 0; i < tokens.size(); ++i) {
    tokens[i] = static_cast<int>(rng.below(static_cast<uint32_t>(config.vocab_size)));
    targets[i] = static_cast<int>(rng.below(static_cast<uint32_t>(config.vocab_size)));
  }
  // Chapter 06's whole step: forward, backward, clipping, AdamW, all on the GPU; only the token
  // ids go there and the loss and gradient norm come back.
  double best_step = 1e30, best_fwd_bwd = 1e30;
  float loss = 0;
  for (int s = 0; s < steps + 1; ++s) {
    gpt2::Timer t;
    loss = model.forward(tokens.data(), targets.data(), B, T);
    model.zero_grad();
    model.backward();
    be.synchronize();
    const double fwd_bwd = t.seconds();
    t.reset();
    const gpt2::StepOutcome out =
        gpt2::train_step(trainable, adamw, tokens.data(), targets.data(), B, T, 1, 6e-4f, 1.0f);
    be.synchronize();
    loss = out.loss;
    if (s > 0) {  // step 0 is warm-up
      best_fwd_bwd = std::min(best_fwd_bwd, fwd_bwd);
      best_step = std::min(best_step, t.seconds());
    }
  }
  std::printf(
      "  ours   %s: forward+backward %8.1f ms, AdamW and clipping %6.2f ms, step %8.1f ms, %9.0f tokens/s,"
      " loss %.4f\n",
      be.tf32() ? "tf32" : "fp32", best_fwd_bwd * 1e3, (best_step - best_fwd_bwd) * 1e3, best_step * 1e3,
      B * T / best_step, loss);
  if (!torch) return;
  const std::string cmd = std::string("python3 ") + GPT2_CH09_DIR + "/bench_pytorch.py " + std::to_string(B) +
                          " " + std::to_string(T) + " " + std::to_string(steps) + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) {
    std::printf("  PyTorch: could not run %s\n", cmd.c_str());
    return;
  }
  char line[512];
  while (std::fgets(line, sizeof line, pipe)) {
    int tf32 = 0;
    double fb = 0, opt = 0, total = 0;
    if (std::sscanf(line, "torch_cuda tf32=%d fwd_bwd_seconds=%lf adamw_seconds=%lf step_seconds=%lf", &tf32,
                    &fb, &opt, &total) == 4) {
      std::printf("  torch  %s: forward+backward %8.1f ms, AdamW %6.2f ms, step %8.1f ms, %9.0f tokens/s\n",
                  tf32 ? "tf32" : "fp32", fb * 1e3, opt * 1e3, total * 1e3, B * T / total);
    } else {
      std::printf("  torch: %s", line);
    }
  }
  pclose(pipe);
}

// ---- GPT-2 124M generation with the KV cache on the GPU, batch 1 ------------------------------
void bench_generation(gpt2::CudaBackend& be) {
  const gpt2::GPT2Config config = gpt2::GPT2Config::from_name("gpt2");
  gpt2::GPT2 model(config, be);
  model.init_random(1337);
  gpt2::KVCache cache(config, be);
  std::vector<int> prompt(16);
  for (int i = 0; i < 16; ++i) prompt[static_cast<size_t>(i)] = 1000 + 37 * i;
  // Chapter 07's loop: the logits of each step come back to the host for the (greedy) sampler.
  const gpt2::Generation g =
      gpt2::generate(model, cache, prompt, {.max_new_tokens = 257, .greedy = true, .stop_at_eot = false});
  std::printf(
      "\nGPT-2 124M generation, KV cache on the GPU, batch 1 (%s): prefill of 16 tokens %.1f ms, "
      "%.1f tokens/s over %d tokens\n",
      be.tf32() ? "TF32" : "fp32", g.prefill_seconds * 1e3, g.decode_tokens_per_second(), g.decode_steps);
}

}  // namespace

int main(int argc, char** argv) {
  int batch = 0, steps = 5;
  bool torch = true;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
      batch = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--steps") == 0 && i + 1 < argc) {
      steps = std::max(1, std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "--no-torch") == 0) {
      torch = false;
    } else {
      std::fprintf(stderr, "usage: ch09_bench [--batch B] [--steps N] [--no-torch]\n");
      return 2;
    }
  }
  const gpt2::cuda::DeviceStatus status = gpt2::cuda::cuda_device_status();
  if (!status.usable) {
    std::printf("ch09_bench: SKIPPED, %s\n", gpt2::cuda::describe(status).c_str());
    return gpt2::cuda::kSkipReturnCode;
  }
  try {
    std::printf("device: %s\n", gpt2::cuda::describe(status).c_str());
    gpt2::CudaBackend be;
    bench_matmul(be);
    bench_attention(be);
    bench_training_step(be, batch, steps, torch);
    bench_generation(be);
    be.set_tf32(true);
    bench_training_step(be, batch, steps, /*torch=*/false);  // torch already ran both settings
  } catch (const gpt2::Error& e) {
    std::fprintf(stderr, "ch09_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
