// The whole GPT-2 on the GPU against the same model on the CPU: logits, loss, every gradient,
// the losses of a few training steps (AdamW and clipping on the GPU), generation with the KV cache
// in the GPU's memory, and the bytes that cross between host and GPU per step. The model code is
// chapter 05's, unchanged; only the backend differs.
#include <string>
#include <vector>

#include "chapters/05_gpt2_model/gpt2.h"
#include "chapters/05_gpt2_model/kv_cache.h"
#include "chapters/06_training/adamw.h"
#include "chapters/06_training/gpt2_trainable.h"
#include "chapters/06_training/tests/train_parity.h"
#include "chapters/06_training/trainer.h"
#include "chapters/07_sampling/generate.h"
#include "chapters/09_cuda/cuda_backend.h"
#include "chapters/09_cuda/tests/cuda_test_helpers.h"
#include "common/safetensors.h"
#include "tests/catch.h"

using namespace gpt2;
using namespace gpt2::cuda::testing;

namespace {

// A tiny GPT-2: 2 layers, 4 heads of 8, 64 positions, 97 tokens; B = 3 sequences of T = 24.
GPT2Config tiny_config() {
  return GPT2Config::make(2, 4, 32, 64, 97, 1e-5f);
}
constexpr int kB = 3, kT = 24;

// Model-level tolerance. Every op above agrees with the CPU within sum_tolerance(K) of its own
// inputs; through 2 blocks (about 20 ops, each adding its own rounding on top of the error it
// was given) and the longest sum of the model (the V = 97 logits, the B T = 72 positions of a
// weight gradient), errors add up to roughly 20 sum_tolerance(97), about 1e-4 relative. We use
// that bound, computed, not a guess picked to pass.
double model_tolerance() {
  return 20.0 * sum_tolerance(97);
}

// One training forward and backward of `cpu` and `gpu` (the same weights): loss, logits, losses
// and every gradient within model_tolerance().
void check_forward_backward(GPT2& cpu, GPT2& gpu, const std::vector<int>& tokens,
                            const std::vector<int>& targets) {
  const float cpu_loss = cpu.forward(tokens.data(), targets.data(), kB, kT);
  const float gpu_loss = gpu.forward(tokens.data(), targets.data(), kB, kT);
  const double tol = model_tolerance();
  INFO("cpu loss " << cpu_loss << ", gpu loss " << gpu_loss);
  CHECK(std::abs(gpu_loss - cpu_loss) <= tol * std::abs(cpu_loss));
  check_close(gpu.logits(), cpu.logits(), tol, "logits");
  check_close(gpu.losses(), cpu.losses(), tol, "per-position losses");
  cpu.zero_grad();
  gpu.zero_grad();
  cpu.backward();
  gpu.backward();
  for (const ParamSpec& spec : cpu.layout().specs()) {
    const Tensor g_cpu = cpu.grad(spec.name), g_gpu = gpu.grad(spec.name);
    check_close(g_gpu.span(), g_cpu.span(), tol, "gradient of " + spec.name);
  }
}

}  // namespace

TEST_CASE("09 GPT-2 on the GPU: logits, loss and every gradient match the CPU", "[cuda]") {
  const GPT2Config config = tiny_config();
  CpuBackend cpu_backend;
  CudaBackend gpu_backend;
  GPT2 cpu(config, cpu_backend), gpu(config, gpu_backend);
  cpu.init_random(42);
  gpu.init_random(42);
  cpu.set_mode(GPT2::Mode::training);
  gpu.set_mode(GPT2::Mode::training);

  const auto tokens = random_ints(kB * kT, config.vocab_size, 1);
  auto targets = random_ints(kB * kT, config.vocab_size, 2);
  targets[5] = -1;  // a few ignored positions
  targets[40] = -1;
  check_forward_backward(cpu, gpu, tokens, targets);
}

TEST_CASE("09 GPT-2 on the GPU with dropout: the CPU's masks, logits, loss and gradients",
          "[cuda][dropout]") {
  // The masks come from (seed, pass, site) and the element's index alone (dropout.h), so the GPU
  // drops exactly what the CPU drops; only the float rounding of the products differs.
  GPT2Config config = tiny_config();
  config.dropout = {0.1f, 0.2f, 0.3f};
  CpuBackend cpu_backend;
  CudaBackend gpu_backend;
  GPT2 cpu(config, cpu_backend), gpu(config, gpu_backend);
  cpu.init_random(42);
  gpu.init_random(42);
  cpu.set_mode(GPT2::Mode::training);
  gpu.set_mode(GPT2::Mode::training);
  cpu.set_dropout_pass(1337, 3);
  gpu.set_dropout_pass(1337, 3);
  const auto tokens = random_ints(kB * kT, config.vocab_size, 1);
  const auto targets = random_ints(kB * kT, config.vocab_size, 2);
  check_forward_backward(cpu, gpu, tokens, targets);
}

TEST_CASE("09 GPT-2 on the GPU: five training steps give the CPU's losses", "[cuda]") {
  // Chapter 06's train_step on both: forward, backward, the gradient norm and clipping, AdamW. On
  // the GPU all of it runs there (CudaBackend is also the TrainingOps).
  const GPT2Config config = tiny_config();
  CpuBackend cpu_backend;
  CudaBackend gpu_backend;
  GPT2 cpu(config, cpu_backend), gpu(config, gpu_backend);
  cpu.init_random(7);
  gpu.init_random(7);
  Gpt2Trainable cpu_t(cpu), gpu_t(gpu);
  const size_t n = static_cast<size_t>(cpu.num_parameters());
  AdamW cpu_opt(cpu_backend, n, decay_ranges(cpu_t.param_infos()), {}),
      gpu_opt(gpu_backend, n, decay_ranges(gpu_t.param_infos()), {});

  // One fixed batch, overfitted: the loss must fall, and identically on both. Clipping at 1.0
  // is active (the first gradients of a random model are larger).
  const auto tokens = random_ints(kB * kT, config.vocab_size, 3);
  const auto targets = random_ints(kB * kT, config.vocab_size, 4);
  std::vector<float> cpu_losses, gpu_losses, cpu_norms, gpu_norms;
  for (int step = 0; step < 5; ++step) {
    const StepOutcome c = train_step(cpu_t, cpu_opt, tokens.data(), targets.data(), kB, kT, 1, 1e-3f, 1.0f);
    const StepOutcome g = train_step(gpu_t, gpu_opt, tokens.data(), targets.data(), kB, kT, 1, 1e-3f, 1.0f);
    cpu_losses.push_back(c.loss);
    gpu_losses.push_back(g.loss);
    cpu_norms.push_back(c.grad_norm);
    gpu_norms.push_back(g.grad_norm);
  }
  check_close(gpu_losses, cpu_losses, model_tolerance(), "losses of 5 training steps");
  check_close(gpu_norms, cpu_norms, model_tolerance(), "gradient norms of 5 training steps");
  CHECK(cpu_losses.back() < cpu_losses.front());
}

TEST_CASE(
    "09 GPT-2 on the GPU: per step only token ids go up and only the loss, the norm and logits come back",
    "[cuda]") {
  const GPT2Config config = tiny_config();
  CudaBackend be;
  GPT2 model(config, be);
  model.init_random(9);
  Gpt2Trainable trainable(model);
  AdamW adamw(be, model.params().size(), decay_ranges(trainable.param_infos()), {});
  const auto tokens = random_ints(kB * kT, config.vocab_size, 5);
  const auto targets = random_ints(kB * kT, config.vocab_size, 6);
  const size_t ids = tokens.size() * sizeof(int);
  for (int K : {1, 2}) {
    std::vector<int> in, tg;  // K micro-batches
    for (int k = 0; k < K; ++k) {
      in.insert(in.end(), tokens.begin(), tokens.end());
      tg.insert(tg.end(), targets.begin(), targets.end());
    }
    for (int step = 0; step < 2; ++step) {
      be.reset_transfers();
      train_step(trainable, adamw, in.data(), tg.data(), kB, kT, K, 1e-3f, 1.0f);
      INFO("K=" << K << " step " << step);
      CHECK(be.transfers().to_device == static_cast<size_t>(K) * 2 * ids);  // tokens and targets
      CHECK(be.transfers().to_host ==
            static_cast<size_t>(K) * sizeof(double) + sizeof(double));  // loss, norm
    }
  }
  // Generation: after the prompt, each step sends one token id and receives its logits.
  model.set_mode(GPT2::Mode::inference);
  KVCache cache(config, be);
  model.forward(cache, tokens.data(), 1, 10);
  for (int step = 0; step < 3; ++step) {
    be.reset_transfers();
    model.forward(cache, &tokens[static_cast<size_t>(10 + step)], 1, 1);
    CHECK(be.transfers().to_device == sizeof(int));
    CHECK(be.transfers().to_host == static_cast<size_t>(config.vocab_size) * sizeof(float));
  }
}

TEST_CASE("09 GPT-2 on the GPU: prefill + one token at a time gives the full forward's logits", "[cuda]") {
  const GPT2Config config = tiny_config();
  CudaBackend be;
  GPT2 model(config, be);
  model.init_random(10);
  const int n = 40, V = config.vocab_size;
  const auto tokens = random_ints(n, V, 7);
  model.forward(tokens.data(), nullptr, 1, n);
  const std::vector<float> full(model.logits().begin(), model.logits().end());
  for (int prompt : {1, 9, 39, 40}) {
    KVCache cache(config, be);
    auto logits = model.forward(cache, tokens.data(), 1, prompt, /*all_logits=*/true);
    std::vector<float> ours(logits.begin(), logits.end());
    for (int t = prompt; t < n; ++t) {
      logits = model.forward(cache, &tokens[static_cast<size_t>(t)], 1, 1);
      ours.insert(ours.end(), logits.begin(), logits.end());
    }
    INFO("prompt of " << prompt);
    check_close(ours, full, model_tolerance(), "cached logits");
  }
}

TEST_CASE("09 greedy generation on the GPU equals PyTorch token for token", "[cuda]") {
  CudaBackend be;
  GPT2 model = GPT2::load(fixture_dir() + "/07_tiny_model", be);
  const auto ref = SafetensorsFile::open(fixture_dir() + "/07_generate.safetensors");
  auto ids = [&](const std::string& name) {
    std::vector<int> out;
    for (int64_t x : ref.get_int(name)) out.push_back(static_cast<int>(x));
    return out;
  };
  GenerateOptions options{.max_new_tokens = 10, .greedy = true};
  CHECK(generate(model, ids("prompt_short"), options).tokens == ids("greedy_short"));
  options.max_new_tokens = 30;  // past the 16-position context: the sliding window
  CHECK(generate(model, ids("prompt_window"), options).tokens == ids("greedy_window"));
}
