// Chapter 08: the whole GPT-2 on the fast kernels, against chapter 05's PyTorch fixture with the
// tolerances chapter 05 uses (see chapters/05_gpt2_model/tests/test_model.cpp: the reference is
// float64, so the differences are float32 rounding: logits and loss 1e-5 relative, gradients
// 1e-4), and thread-count determinism of a few training steps.
#include <cmath>
#include <filesystem>
#include <vector>

#include "chapters/05_gpt2_model/gpt2.h"
#include "chapters/06_training/gpt2_trainable.h"
#include "chapters/06_training/tests/train_parity.h"
#include "chapters/08_cpu_parallel/fast_backend.h"
#include "chapters/08_cpu_parallel/tests/test_util.h"
#include "common/rng.h"
#include "common/safetensors.h"
#include "common/testing.h"
#include "tests/catch.h"

namespace fs = std::filesystem;

namespace {

std::vector<int> fixture_ints(const gpt2::SafetensorsFile& file, const std::string& name) {
  std::vector<int64_t> v = file.get_int(name);
  return {v.begin(), v.end()};
}

}  // namespace

TEST_CASE("08 model on FastCpuBackend: logits, loss and every gradient match PyTorch",
          "[ch08][model][parity]") {
  const auto file = gpt2::SafetensorsFile::open(fs::path(gpt2::fixture_dir()) / "05_model.safetensors");
  const std::vector<int> tokens = fixture_ints(file, "tokens"), targets = fixture_ints(file, "targets");
  const int B = 2, T = 32;
  REQUIRE(tokens.size() == static_cast<size_t>(B * T));
  for (gpt2::Simd level : ch08_test::levels()) {
    ch08_test::with(2, level, [&] {
      gpt2::FastCpuBackend fast;
      gpt2::GPT2 model = gpt2::GPT2::load(fs::path(gpt2::fixture_dir()) / "05_hf_tiny", fast);
      model.set_mode(gpt2::GPT2::Mode::training);
      const float loss = model.forward(tokens.data(), targets.data(), B, T);
      auto r = gpt2::rel_close(model.logits(), file.get_vector("logits"), 1e-5, "logits");
      INFO(r.message << " " << gpt2::simd_name(level));
      CHECK(r.ok);
      const float ref = file.get_vector("loss").at(0);
      CHECK(std::fabs(loss - ref) / std::fabs(ref) <= 1e-5);
      model.zero_grad();
      model.backward();
      for (const gpt2::ParamSpec& s : model.layout().specs()) {
        auto g = gpt2::rel_close(model.grad(s.name).span(), file.get_vector("grad." + s.name), 1e-4, s.name);
        INFO(g.message);
        CHECK(g.ok);
      }
    });
  }
}

TEST_CASE("08 model on FastCpuBackend: 10 training steps match PyTorch", "[ch08][model][parity]") {
  gpt2::FastCpuBackend fast;
  gpt2::testing::check_train_parity(fast);
}

TEST_CASE("08 model: three training steps give the same bits with 1 and 2 threads",
          "[ch08][model][determinism]") {
  // chapter 06's train_step on FastCpuBackend: forward, backward, the gradient norm and clipping,
  // AdamW, all on the backend's training operations.
  gpt2::GPT2Config config = gpt2::GPT2Config::from_name("gpt2");
  config.n_layer = 2;
  config.n_head = 4;
  config.n_embd = 64;
  config.vocab_size = 300;
  config.n_positions = 64;
  const int B = 3, T = 37;
  gpt2::Rng rng(5);
  std::vector<int> tokens(B * T), targets(B * T);
  for (int i = 0; i < B * T; ++i) {
    tokens[i] = static_cast<int>(rng.below(config.vocab_size));
    targets[i] = static_cast<int>(rng.below(config.vocab_size));
  }
  for (gpt2::Simd level : ch08_test::levels()) {
    std::vector<float> params[2], losses[2];
    for (int threads : {1, 2}) {
      ch08_test::with(threads, level, [&] {
        gpt2::FastCpuBackend fast;
        gpt2::GPT2 model(config, fast);
        model.init_random(42);
        gpt2::Gpt2Trainable trainable(model);
        gpt2::AdamW adamw(fast, model.params().size(), gpt2::decay_ranges(trainable.param_infos()), {});
        for (int step = 0; step < 3; ++step) {
          const gpt2::StepOutcome out =
              gpt2::train_step(trainable, adamw, tokens.data(), targets.data(), B, T, 1, 1e-3f, 1.0f);
          losses[threads - 1].push_back(out.loss);
          losses[threads - 1].push_back(out.grad_norm);
        }
        params[threads - 1] = model.params_to_host().to_vector();
      });
    }
    INFO(gpt2::simd_name(level));
    CHECK(ch08_test::same_bits(losses[0], losses[1]));
    CHECK(ch08_test::same_bits(params[0], params[1]));
  }
}
