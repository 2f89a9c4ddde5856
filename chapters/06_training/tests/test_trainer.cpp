// The training loop on a tiny bigram model (bigram_model.h): the loss falls, metrics and the
// plot are written, gradient accumulation equals a bigger batch, Ctrl-C saves a checkpoint and a
// resumed run continues bit for bit, and a half-written checkpoint never replaces a good one.
#include <csignal>
#include <filesystem>
#include <vector>

#include "bigram_model.h"
#include "chapters/06_training/checkpoint.h"
#include "chapters/06_training/stop_signal.h"
#include "chapters/06_training/token_file.h"
#include "chapters/06_training/trainer.h"
#include "common/file_io.h"
#include "common/testing.h"
#include "tests/catch.h"

using namespace gpt2;
using gpt2::testing::BigramModel;
namespace fs = std::filesystem;

namespace {
constexpr int kV = 16;

// A run directory with train.bin / val.bin: a stream where the next token is mostly 3x + 1 mod V,
// so a bigram model can learn it.
fs::path make_run_dir(const std::string& name) {
  fs::path dir = gpt2::test_temp_dir("06_" + name);
  Rng rng(5);
  std::vector<int32_t> tokens{0};
  for (int i = 0; i < 6000; ++i) {
    int next = rng.uniform() < 0.8f ? (3 * tokens.back() + 1) % kV : static_cast<int>(rng.below(kV));
    tokens.push_back(next);
  }
  write_token_file(dir / "train.bin", std::span(tokens).first(5000));
  write_token_file(dir / "val.bin", std::span(tokens).subspan(5000));
  return dir;
}

TrainConfig small_config(const fs::path& dir) {
  TrainConfig c;
  c.train_file = dir / "train.bin";
  c.val_file = dir / "val.bin";
  c.out_dir = dir / "run";
  c.batch_size = 4;
  c.seq_len = 16;
  c.steps = 30;
  c.lr = 0.05f;
  c.min_lr = 0.005f;
  c.warmup_steps = 5;
  c.eval_interval = 10;
  c.eval_steps = 4;
  c.checkpoint_interval = 10;
  c.progress = false;
  return c;
}

std::vector<float> losses(const TrainResult& r) {
  std::vector<float> out;
  for (const auto& m : r.history) out.push_back(m.train_loss);
  return out;
}
}  // namespace

TEST_CASE("train: the loss falls, metrics.csv, loss.svg and checkpoints are written", "[trainer]") {
  fs::path dir = make_run_dir("train");
  BigramModel model(kV);
  TrainConfig c = small_config(dir);
  TrainResult r = train(model, c);
  REQUIRE(r.history.size() == 30);
  CHECK(r.final_step == 30);
  CHECK(!r.interrupted);
  CHECK(r.history.front().train_loss == Approx(std::log(16.0)).epsilon(0.02));  // uniform at the start
  CHECK(r.history.back().train_loss < 0.7f * r.history.front().train_loss);
  CHECK(r.history[0].lr == Approx(0.01));  // warmup: 0.05 * 1/5
  CHECK(r.history[4].lr == Approx(0.05));

  auto rows = read_metrics_csv(c.out_dir / "metrics.csv");
  REQUIRE(rows.size() == 30);
  for (const auto& m : rows) {
    CHECK(std::isfinite(m.val_loss) == (m.step % 10 == 0));  // validated every 10 steps
    CHECK(m.grad_norm > 0);
  }
  CHECK(rows[29].train_loss == r.history[29].train_loss);  // 9 digits read back the exact float
  CHECK(rows[29].val_loss < rows[9].val_loss);
  CHECK(read_file(c.out_dir / "loss.svg").find("validation") != std::string::npos);
  // Checkpoints at 10, 20, 30; the two newest are kept.
  CHECK(!fs::exists(c.out_dir / "checkpoints/step_00000010"));
  CHECK(fs::exists(c.out_dir / "checkpoints/step_00000020/state.json"));
  CHECK(latest_checkpoint(c.out_dir) == c.out_dir / "checkpoints/step_00000030");
  CHECK(r.last_checkpoint == c.out_dir / "checkpoints/step_00000030");
  fs::remove_all(dir);
}

TEST_CASE("train: Ctrl-C saves a checkpoint; resuming continues bit for bit", "[trainer][resume]") {
  fs::path dir = make_run_dir("resume");
  TrainConfig c = small_config(dir);
  c.grad_accum_steps = 2;  // the data position then advances twice per step: resume must get it right

  BigramModel straight(kV);
  c.out_dir = dir / "straight";
  std::vector<float> expected = losses(train(straight, c));

  // The same run, interrupted by SIGINT after step 13 (between checkpoints), then resumed twice.
  c.out_dir = dir / "stopped";
  BigramModel first(kV);
  TrainResult r1 = train(first, c, [](const StepMetrics& m) {
    if (m.step == 13) std::raise(SIGINT);
  });
  CHECK(r1.interrupted);
  CHECK(r1.final_step == 13);
  CHECK(latest_checkpoint(c.out_dir) == c.out_dir / "checkpoints/step_00000013");
  CHECK(!stop_requested());  // the flag is cleared for the next run

  c.resume = true;
  BigramModel second(kV, /*seed=*/999);  // different initial weights: the checkpoint must replace them
  TrainResult r2 = train(second, c);
  CHECK(r2.start_step == 13);
  CHECK(r2.final_step == 30);

  std::vector<float> resumed = losses(r1);
  for (float l : losses(r2)) resumed.push_back(l);
  REQUIRE(resumed.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO("step " << i + 1);
    CHECK(resumed[i] == expected[i]);  // bit for bit
  }
  CHECK(std::vector<float>(second.params().begin(), second.params().end()) ==
        std::vector<float>(straight.params().begin(), straight.params().end()));
  // metrics.csv of the resumed run holds every step once.
  auto rows = read_metrics_csv(c.out_dir / "metrics.csv");
  REQUIRE(rows.size() == 30);
  for (size_t i = 0; i < rows.size(); ++i) CHECK(rows[i].train_loss == expected[i]);

  // Resuming a finished run does nothing; resuming with another batch size is refused.
  BigramModel third(kV);
  CHECK(train(third, c).history.empty());
  c.batch_size = 2;
  CHECK_THROWS_WITH(train(third, c), Catch::Contains("resuming exactly needs the same values"));
  fs::remove_all(dir);
}

TEST_CASE("gradient accumulation over 2 micro-batches of 2 equals one batch of 4", "[trainer]") {
  fs::path dir = make_run_dir("accum");
  TrainConfig c = small_config(dir);
  c.shuffle = false;  // the same windows in the same order either way
  c.steps = 5;
  c.val_file.clear();
  c.batch_size = 4;
  c.out_dir = dir / "b4";
  BigramModel a(kV);
  TrainResult ra = train(a, c);
  c.batch_size = 2;
  c.grad_accum_steps = 2;
  c.out_dir = dir / "b2x2";
  BigramModel b(kV);
  TrainResult rb = train(b, c);
  // Not bit for bit: the sums are grouped differently (mean of two means vs one mean), so the
  // results agree to float rounding, amplified a little by five AdamW steps.
  for (int s = 0; s < 5; ++s) {
    CHECK(rb.history[s].train_loss == Approx(ra.history[s].train_loss).epsilon(1e-5));
    CHECK(rb.history[s].grad_norm == Approx(ra.history[s].grad_norm).epsilon(1e-4));
  }
  auto r = rel_close(b.params(), a.params(), 1e-4, "parameters");
  INFO(r.message);
  CHECK(r.ok);
  fs::remove_all(dir);
}

TEST_CASE("an interrupted checkpoint write never replaces the last good one", "[trainer][checkpoint]") {
  fs::path dir = make_run_dir("crash");
  TrainConfig c = small_config(dir);
  c.steps = 10;
  BigramModel model(kV);
  train(model, c);
  const fs::path root = c.out_dir / "checkpoints";
  REQUIRE(latest_checkpoint(c.out_dir) == root / "step_00000010");
  // A crash while writing step 20: its .tmp directory holds a model but no state.json.
  fs::create_directories(root / "step_00000020.tmp");
  model.save(root / "step_00000020.tmp");
  CHECK(latest_checkpoint(c.out_dir) == root / "step_00000010");
  // A crash after the rename but before `latest` was updated: the directory is complete and
  // newer, but `latest` still names step 10, which is also complete and consistent.
  // A stale `latest` naming a deleted checkpoint falls back to the newest complete one.
  write_file_atomic(root / "latest", "step_00000099\n");
  CHECK(latest_checkpoint(c.out_dir) == root / "step_00000010");
  fs::remove(root / "latest");
  CHECK(latest_checkpoint(c.out_dir) == root / "step_00000010");
  // Damaged files are reported with their names.
  write_file_atomic(root / "step_00000010/state.json", "{\"step\": 10}");
  BigramModel other(kV);
  AdamW opt(other.params().size(), decay_ranges(other.param_infos()), {});
  CHECK_THROWS_WITH(load_checkpoint(root / "step_00000010", other, opt),
                    Catch::Contains("state.json: bad training state"));
  write_file_atomic(root / "step_00000010/state.json", "not json");
  CHECK_THROWS_WITH(load_checkpoint(root / "step_00000010", other, opt),
                    Catch::Contains("not a JSON object"));
  fs::remove_all(dir);
}

TEST_CASE("TrainConfig: bad options are named", "[trainer]") {
  fs::path dir = make_run_dir("config");
  BigramModel model(kV);
  TrainConfig c = small_config(dir);
  c.batch_size = 0;
  CHECK_THROWS_WITH(train(model, c), Catch::Contains("TrainConfig.batch_size must be > 0"));
  c = small_config(dir);
  c.min_lr = 1.0f;
  CHECK_THROWS_WITH(train(model, c), Catch::Contains("TrainConfig.min_lr"));
  c = small_config(dir);
  c.train_file = dir / "nothing.bin";
  CHECK_THROWS_WITH(train(model, c), Catch::Contains("nothing.bin"));
  BigramModel tiny_vocab(8);
  CHECK_THROWS_WITH(train(tiny_vocab, small_config(dir)),
                    Catch::Contains("outside the model's vocabulary of 8"));
  fs::remove_all(dir);
}
