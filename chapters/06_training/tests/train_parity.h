// Ten training steps of the tiny GPT-2 against PyTorch (tests/reference/06_train_parity.py), on
// any backend: chapter 06's test runs it on CpuBackend, chapter 08's on FastCpuBackend, chapter
// 09's on the GPU (where the whole step, clipping and AdamW included, runs on the device).
#pragma once

#include <filesystem>
#include <vector>

#include "chapters/05_gpt2_model/gpt2.h"
#include "chapters/06_training/gpt2_trainable.h"
#include "chapters/06_training/lr_schedule.h"
#include "chapters/06_training/trainer.h"
#include "common/safetensors.h"
#include "common/testing.h"
#include "tests/catch.h"

namespace gpt2::testing {

inline void check_train_parity(Backend& backend) {
  const std::filesystem::path fixtures = fixture_dir();
  GPT2 model = GPT2::load(fixtures / "05_hf_tiny", backend);
  model.set_dropout({});  // its config.json says 0.1, as transformers writes it; the reference has none
  SafetensorsFile batch = SafetensorsFile::open(fixtures / "05_model.safetensors");
  std::vector<int64_t> tokens64 = batch.get_int("tokens"), targets64 = batch.get_int("targets");
  std::vector<int> tokens(tokens64.begin(), tokens64.end()), targets(targets64.begin(), targets64.end());
  const Shape shape = batch.info("tokens").shape;  // (B, T)
  const int B = static_cast<int>(shape[0]), T = static_cast<int>(shape[1]);

  SafetensorsFile ref = SafetensorsFile::open(fixtures / "06_train_parity.safetensors");
  const auto& meta = ref.metadata();
  const int steps = std::stoi(meta.at("steps"));
  const LrSchedule schedule{std::stof(meta.at("max_lr")), std::stof(meta.at("min_lr")),
                            std::stoi(meta.at("warmup")), steps};
  Gpt2Trainable trainable(model);
  AdamW opt(trainable.backend(), trainable.params().size(), decay_ranges(trainable.param_infos()),
            {std::stof(meta.at("beta1")), std::stof(meta.at("beta2")), std::stof(meta.at("eps")),
             std::stof(meta.at("weight_decay"))});
  // The fixture starts from chapter 05's fixture weights; if those were regenerated, so must this be.
  INFO(
      "tests/fixtures/06_train_parity.safetensors is older than 05_hf_tiny: rerun "
      "tests/reference/06_train_parity.py");
  REQUIRE(ref.get_vector("losses")[0] == Approx(batch.get_vector("loss")[0]).epsilon(1e-6));
  std::vector<float> losses, norms;
  for (int s = 0; s < steps; ++s) {
    StepOutcome out = train_step(trainable, opt, tokens.data(), targets.data(), B, T, 1, lr_at(schedule, s),
                                 std::stof(meta.at("max_norm")));
    losses.push_back(out.loss);
    norms.push_back(out.grad_norm);
  }
  // Tolerance: PyTorch computes in float64, we in float32. The loss of one forward agrees to
  // about 1e-6 relative (chapter 05's parity test); ten AdamW steps of size <= lr = 1e-3 move
  // the weights by amounts whose float rounding changes the loss by far less than that.
  auto r = rel_close(losses, ref.get_vector("losses"), 1e-5, "losses of 10 AdamW steps");
  INFO(backend.name() << ": " << r.message);
  CHECK(r.ok);
  auto rn =
      rel_close(norms, ref.get_vector("norms"), 1e-4, "gradient norms");  // gradients: 1e-4 (chapter 05)
  INFO(rn.message);
  CHECK(rn.ok);
}

}  // namespace gpt2::testing
