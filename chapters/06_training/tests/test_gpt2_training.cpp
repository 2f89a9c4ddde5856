// Chapter 05's GPT-2 trained by this chapter's loop: 10 AdamW steps against PyTorch
// (tests/reference/06_train_parity.py), exact resume after Ctrl-C, the same losses with 1 or 2
// threads, and checkpoints that are Hugging Face model directories.
#include <csignal>
#include <filesystem>
#include <vector>

#include "chapters/05_gpt2_model/gpt2.h"
#include "chapters/06_training/checkpoint.h"
#include "chapters/06_training/gpt2_trainable.h"
#include "chapters/06_training/lr_schedule.h"
#include "chapters/06_training/tests/train_parity.h"
#include "chapters/06_training/token_file.h"
#include "chapters/06_training/trainer.h"
#include "common/rng.h"
#include "common/safetensors.h"
#include "common/testing.h"
#include "tests/catch.h"

#ifdef GPT2_HAVE_OPENMP
#include <omp.h>
#endif

using namespace gpt2;
namespace fs = std::filesystem;

TEST_CASE("10 AdamW steps of the tiny GPT-2 match PyTorch (clipping and weight decay on)", "[gpt2][parity]") {
  CpuBackend cpu;
  gpt2::testing::check_train_parity(cpu);
}

namespace {
// A small GPT-2 and a run directory with token files of a learnable stream over its vocabulary.
GPT2Config tiny_config() {
  return GPT2Config::make(2, 4, 32, 16, 64);
}

fs::path make_run_dir(const std::string& name) {
  fs::path dir = gpt2::test_temp_dir("06_gpt2_" + name);
  Rng rng(11);
  std::vector<int32_t> tokens{1};
  for (int i = 0; i < 3000; ++i) {
    tokens.push_back(rng.uniform() < 0.7f ? (5 * tokens.back() + 3) % 64 : static_cast<int>(rng.below(64)));
  }
  write_token_file(dir / "train.bin", std::span(tokens).first(2500));
  write_token_file(dir / "val.bin", std::span(tokens).subspan(2500));
  return dir;
}

TrainConfig tiny_train_config(const fs::path& dir, const std::string& out) {
  TrainConfig c;
  c.train_file = dir / "train.bin";
  c.val_file = dir / "val.bin";
  c.out_dir = dir / out;
  c.batch_size = 2;
  c.seq_len = 16;
  c.grad_accum_steps = 2;
  c.steps = 8;
  c.lr = 3e-3f;
  c.min_lr = 3e-4f;
  c.warmup_steps = 2;
  c.eval_interval = 4;
  c.eval_steps = 2;
  c.checkpoint_interval = 3;
  c.progress = false;
  return c;
}

std::vector<float> losses_of(const TrainResult& r) {
  std::vector<float> out;
  for (const auto& m : r.history) out.push_back(m.train_loss);
  return out;
}
}  // namespace

TEST_CASE("GPT-2: Ctrl-C, then resume, gives the losses of a run that never stopped", "[gpt2][resume]") {
  std::vector<float> without_dropout;
  // Without dropout, and with it: the masks of each pass come from (seed, step K + k), so the
  // resumed run draws the masks the straight run drew.
  for (const DropoutConfig dropout : {DropoutConfig{}, DropoutConfig{0.1f, 0.1f, 0.2f}}) {
    INFO("dropout " << dropout.embd_pdrop << " " << dropout.attn_pdrop << " " << dropout.resid_pdrop);
    fs::path dir = make_run_dir("resume");
    CpuBackend cpu;
    GPT2 straight(tiny_config(), cpu);
    straight.init_random(7);
    straight.set_dropout(dropout);
    TrainResult all = train(straight, tiny_train_config(dir, "straight"));
    std::vector<float> expected = losses_of(all);
    REQUIRE(expected.size() == 8);
    CHECK(expected.back() < expected.front());
    if (!dropout.any()) {
      without_dropout = expected;
    } else {
      CHECK(expected != without_dropout);  // dropout changes the training losses...
      for (const StepMetrics& m : all.history)
        if (std::isfinite(m.val_loss)) CHECK(m.val_loss > 0);  // ...and is off for validation
    }

    TrainConfig c = tiny_train_config(dir, "stopped");
    GPT2 first(tiny_config(), cpu);
    first.init_random(7);
    first.set_dropout(dropout);
    TrainResult r1 = train(first, c, {}, [](const StepMetrics& m) {
      if (m.step == 5) std::raise(SIGINT);
    });
    CHECK(r1.interrupted);
    c.resume = true;
    GPT2 second(tiny_config(), cpu);  // all zeros: everything must come from the checkpoint
    second.set_dropout(dropout);
    TrainResult r2 = train(second, c);
    CHECK(r2.start_step == 5);
    std::vector<float> resumed = losses_of(r1);
    for (float l : losses_of(r2)) resumed.push_back(l);
    REQUIRE(resumed.size() == expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      INFO("step " << i + 1);
      CHECK(resumed[i] == expected[i]);  // bit for bit
    }
    CHECK(second.params_to_host().to_vector() == straight.params_to_host().to_vector());

    // The checkpoint's model is a Hugging Face directory GPT2::load reads, its dropout included.
    GPT2 loaded = GPT2::load(*latest_checkpoint(c.out_dir), cpu);
    CHECK(loaded.params_to_host().to_vector() == second.params_to_host().to_vector());
    CHECK(loaded.config().dropout == dropout);
    fs::remove_all(dir);
  }
}

#ifdef GPT2_HAVE_OPENMP
TEST_CASE("GPT-2: the same seed gives the same loss curve with 1 or 2 threads", "[gpt2][determinism]") {
  fs::path dir = make_run_dir("threads");
  CpuBackend cpu;
  const int saved = omp_get_max_threads();
  std::vector<std::vector<float>> curves, weights;
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    GPT2 model(tiny_config(), cpu);
    model.init_random(3);
    TrainConfig c = tiny_train_config(dir, "threads" + std::to_string(threads));
    TrainResult r = train(model, c);
    std::vector<float> curve = losses_of(r);
    for (const auto& m : r.history) {
      if (std::isfinite(m.val_loss)) curve.push_back(m.val_loss);
    }
    curves.push_back(curve);
    weights.push_back(model.params_to_host().to_vector());
  }
  omp_set_num_threads(saved);
  CHECK(curves[0] == curves[1]);
  CHECK(weights[0] == weights[1]);
  fs::remove_all(dir);
}
#endif

TEST_CASE("GPT-2: accumulation weighs micro-batches by their targets: the mean over all of a step's targets",
          "[gpt2][accumulation]") {
  // Two micro-batches of B = 2 rows with 30 and 3 targets must give the loss and the gradient of
  // one batch of 4 rows holding both (the mean over all 33 targets), not the mean of two means.
  const GPT2Config config = tiny_config();
  const int B = 2, T = 16;
  Rng rng(4);
  std::vector<int> tokens(2 * B * T), targets(2 * B * T, -1);
  for (int& t : tokens) t = static_cast<int>(rng.below(64));
  for (int i = 0; i < 30; ++i) targets[static_cast<size_t>(i)] = static_cast<int>(rng.below(64));
  for (int i = 0; i < 3; ++i) targets[static_cast<size_t>(B * T + 7 * i)] = static_cast<int>(rng.below(64));
  CpuBackend cpu;
  std::vector<float> grads[2];
  float losses[2];
  for (int K : {1, 2}) {
    GPT2 model(config, cpu);
    model.init_random(9);
    Gpt2Trainable trainable(model);
    AdamW adamw(cpu, model.params().size(), decay_ranges(trainable.param_infos()), {});
    const StepOutcome out = train_step(trainable, adamw, tokens.data(), targets.data(), 2 * B / K, T, K,
                                       /*lr=*/0.0f, /*grad_clip=*/0.0f);
    losses[K - 1] = out.loss;
    grads[K - 1] = model.grads_to_host().to_vector();
  }
  CHECK(losses[1] == Approx(losses[0]).epsilon(1e-6));
  auto r = gpt2::rel_close(grads[1], grads[0], 1e-5, "gradient of 2 weighted micro-batches");
  INFO(r.message);
  CHECK(r.ok);
}
