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
      model.set_dropout({});  // the reference has no dropout
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

TEST_CASE("08 model with dropout: PyTorch's numbers with the same masks, the same bits on 1 and 2 threads",
          "[ch08][model][parity][dropout]") {
  const auto file = gpt2::SafetensorsFile::open(fs::path(gpt2::fixture_dir()) / "05_model.safetensors");
  const auto ref =
      gpt2::SafetensorsFile::open(fs::path(gpt2::fixture_dir()) / "05_model_dropout.safetensors");
  const std::vector<int> tokens = fixture_ints(file, "tokens"), targets = fixture_ints(file, "targets");
  const std::vector<float> p = ref.get_vector("p");
  const int B = 2, T = 32;
  auto run = [&](gpt2::Backend& backend, std::vector<float>& logits, std::vector<float>& grads) {
    gpt2::GPT2 model = gpt2::GPT2::load(fs::path(gpt2::fixture_dir()) / "05_hf_tiny", backend);
    model.set_dropout({p[0], p[1], p[2]});
    model.set_mode(gpt2::GPT2::Mode::training);
    model.set_dropout_pass(static_cast<uint64_t>(ref.get_int("seed").at(0)),
                           static_cast<uint64_t>(ref.get_int("pass").at(0)));
    const float loss = model.forward(tokens.data(), targets.data(), B, T);
    logits.assign(model.logits().begin(), model.logits().end());
    model.zero_grad();
    model.backward();
    grads = model.grads_to_host().to_vector();
    return loss;
  };
  std::vector<float> logits[2], grads[2];
  float losses[2] = {0, 0};
  for (int threads : {1, 2}) {
    ch08_test::with(threads, ch08_test::levels().back(), [&] {
      gpt2::FastCpuBackend fast;
      losses[threads - 1] = run(fast, logits[threads - 1], grads[threads - 1]);
    });
  }
  CHECK(ch08_test::same_bits(logits[0], logits[1]));
  CHECK(ch08_test::same_bits(grads[0], grads[1]));
  auto r = gpt2::rel_close(logits[0], ref.get_vector("logits"), 1e-5, "logits with dropout");
  INFO(r.message);
  CHECK(r.ok);
  CHECK(std::fabs(losses[0] - ref.get_vector("loss")[0]) / ref.get_vector("loss")[0] <= 1e-5);
  std::vector<float> expected_grads;
  const gpt2::ParameterLayout layout(gpt2::GPT2Config::make(2, 4, 64, 32, 97));
  for (const gpt2::ParamSpec& s : layout.specs()) {
    const std::vector<float> v = ref.get_vector("grad." + s.name);
    expected_grads.insert(expected_grads.end(), v.begin(), v.end());
  }
  auto g = gpt2::rel_close(grads[0], expected_grads, 1e-4, "gradients with dropout");
  INFO(g.message);
  CHECK(g.ok);
  // The fast backend's dropout keeps exactly the elements the plain one keeps.
  gpt2::CpuBackend plain;
  gpt2::FastCpuBackend fast;
  std::vector<float> x(100000), a(x.size()), b(x.size());
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 13) - 6.0f;
  plain.dropout_forward(a.data(), x.data(), static_cast<int>(x.size()), 0.3f, 77);
  fast.dropout_forward(b.data(), x.data(), static_cast<int>(x.size()), 0.3f, 77);
  CHECK(ch08_test::same_bits(a, b));
  std::fill(a.begin(), a.end(), 1.0f);
  std::fill(b.begin(), b.end(), 1.0f);
  plain.dropout_backward(a.data(), x.data(), static_cast<int>(x.size()), 0.3f, 77);
  fast.dropout_backward(b.data(), x.data(), static_cast<int>(x.size()), 0.3f, 77);
  CHECK(ch08_test::same_bits(a, b));
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
