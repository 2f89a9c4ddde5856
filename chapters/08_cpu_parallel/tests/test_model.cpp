// Chapter 08: the whole GPT-2 on the fast kernels, against chapter 05's PyTorch fixture with the
// tolerances chapter 05 uses (see chapters/05_gpt2_model/tests/test_model.cpp: the reference is
// float64, so the differences are float32 rounding: logits and loss 1e-5 relative, gradients
// 1e-4), and thread-count determinism of a few training steps.
#include <cmath>
#include <filesystem>
#include <vector>

#include "chapters/05_gpt2_model/gpt2.h"
#include "chapters/08_cpu_parallel/adamw_fast.h"
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

TEST_CASE("08 model: three training steps give the same bits with 1 and 2 threads",
          "[ch08][model][determinism]") {
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
        const size_t n = model.params().numel();
        std::vector<float> m(n, 0.0f), v(n, 0.0f);
        for (int step = 1; step <= 3; ++step) {
          losses[threads - 1].push_back(model.forward(tokens.data(), targets.data(), B, T));
          model.zero_grad();
          model.backward();
          gpt2::adamw_update_fast(model.params().data(), model.grads().data(), m.data(), v.data(), n, step,
                                  1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f);
        }
        params[threads - 1].assign(model.params().data(), model.params().data() + n);
      });
    }
    INFO(gpt2::simd_name(level));
    CHECK(ch08_test::same_bits(losses[0], losses[1]));
    CHECK(ch08_test::same_bits(params[0], params[1]));
  }
}
