// The whole GPT-2 on the GPU against the same model on the CPU: logits, loss, every gradient,
// and the losses of a few AdamW steps. The model code is chapter 05's, unchanged; only the
// backend differs.
#include <string>
#include <vector>

#include "chapters/05_gpt2_model/gpt2.h"
#include "chapters/06_training/adamw.h"
#include "chapters/09_cuda/cuda_backend.h"
#include "chapters/09_cuda/tests/cuda_test_helpers.h"
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

}  // namespace

TEST_CASE("09 GPT-2 on the GPU: logits, loss and every gradient match the CPU", "[cuda]") {
  const GPT2Config config = tiny_config();
  CpuBackend cpu_backend;
  CudaBackend gpu_backend;
  GPT2 cpu(config, cpu_backend), gpu(config, gpu_backend);
  cpu.init_random(42);
  gpu.init_random(42);

  const auto tokens = random_ints(kB * kT, config.vocab_size, 1);
  auto targets = random_ints(kB * kT, config.vocab_size, 2);
  targets[5] = -1;  // a few ignored positions
  targets[40] = -1;
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

TEST_CASE("09 GPT-2 on the GPU: five AdamW steps give the CPU's losses", "[cuda]") {
  const GPT2Config config = tiny_config();
  CpuBackend cpu_backend;
  CudaBackend gpu_backend;
  GPT2 cpu(config, cpu_backend), gpu(config, gpu_backend);
  cpu.init_random(7);
  gpu.init_random(7);
  const size_t n = static_cast<size_t>(cpu.num_parameters());
  const AdamWConfig adamw_config;
  AdamW cpu_opt(n, {ParamRange{0, n, true}}, adamw_config),
      gpu_opt(n, {ParamRange{0, n, true}}, adamw_config);

  // One fixed batch, overfitted: the loss must fall, and identically on both.
  const auto tokens = random_ints(kB * kT, config.vocab_size, 3);
  const auto targets = random_ints(kB * kT, config.vocab_size, 4);
  std::vector<float> cpu_losses, gpu_losses;
  for (int step = 0; step < 5; ++step) {
    cpu_losses.push_back(cpu.forward(tokens.data(), targets.data(), kB, kT));
    gpu_losses.push_back(gpu.forward(tokens.data(), targets.data(), kB, kT));
    cpu.zero_grad();
    gpu.zero_grad();
    cpu.backward();
    gpu.backward();  // the model copies the gradients back to grads() on the host
    // chapter 06's AdamW on the host; the next forward() uploads the updated parameters.
    cpu_opt.step(cpu.params().span(), cpu.grads().span(), 1e-3f);
    gpu_opt.step(gpu.params().span(), gpu.grads().span(), 1e-3f);
  }
  check_close(gpu_losses, cpu_losses, model_tolerance(), "losses of 5 AdamW steps");
  CHECK(cpu_losses.back() < cpu_losses.front());
}
