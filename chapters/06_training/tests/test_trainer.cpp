// The training loop on a tiny bigram model (bigram_model.h): the loss falls, metrics and the
// plot are written, gradient accumulation equals a bigger batch, Ctrl-C saves a checkpoint and a
// resumed run continues bit for bit, and a half-written checkpoint never replaces a good one.
#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "bigram_model.h"
#include "chapters/06_training/checkpoint.h"
#include "chapters/06_training/stop_signal.h"
#include "chapters/06_training/token_file.h"
#include "chapters/06_training/trainer.h"
#include "common/error.h"
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
  AdamW opt(other.backend(), other.params().size(), decay_ranges(other.param_infos()), {});
  CHECK_THROWS_WITH(load_checkpoint(root / "step_00000010", other, opt),
                    Catch::Contains("state.json: missing key 'train_loader'"));
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

namespace {
// The bigram model on a clock of the test's own: each forward pass advances `now` by cost(n)
// seconds (n = 0, 1, ... counts the calls), and on_forward(n) runs before it. The budget tests
// then mean the same on any machine, however fast or loaded.
class TimedBigram : public BigramModel {
 public:
  TimedBigram(double& now, std::function<double(int)> cost, std::function<void(int)> on_forward = {})
      : BigramModel(kV), now_(now), cost_(std::move(cost)), on_forward_(std::move(on_forward)) {}
  float forward(const int* inputs, const int* targets, int B, int T) override {
    if (on_forward_) on_forward_(calls_);
    now_ += cost_(calls_++);
    return BigramModel::forward(inputs, targets, B, T);
  }

 private:
  double& now_;
  std::function<double(int)> cost_;
  std::function<void(int)> on_forward_;
  int calls_ = 0;
};

TrainConfig clocked_config(const fs::path& dir, double& now) {
  TrainConfig c = small_config(dir);
  c.val_file.clear();  // (validation passes would cost clock time too)
  c.checkpoint_interval = 100;
  c.clock = [&now] { return now; };
  return c;
}

// A model whose loss (or gradient) turns non-finite from forward pass `bad_call` on.
class DivergingBigram : public BigramModel {
 public:
  DivergingBigram(int bad_call, bool bad_gradient)
      : BigramModel(kV), bad_call_(bad_call), bad_gradient_(bad_gradient) {}
  float forward(const int* inputs, const int* targets, int B, int T) override {
    const float loss = BigramModel::forward(inputs, targets, B, T);
    return calls_++ >= bad_call_ && !bad_gradient_ ? NAN : loss;
  }
  void backward() override {
    BigramModel::backward();
    if (calls_ > bad_call_ && bad_gradient_) grads()[3] = INFINITY;
  }

 private:
  int bad_call_;
  bool bad_gradient_;
  int calls_ = 0;
};
}  // namespace

TEST_CASE("train: a time budget stops between steps, on the run's own clock", "[trainer][budget]") {
  fs::path dir = make_run_dir("budget_steps");
  double now = 0;
  TimedBigram model(now, [](int) { return 1.0; });  // one second per step
  TrainConfig c = clocked_config(dir, now);
  c.time_budget_seconds = 5.5;
  TrainResult r = train(model, c);
  // After 5 steps (5 s) a sixth would end at 6 s, past the budget: not started.
  CHECK(r.final_step == 5);
  CHECK(r.interrupted);
  CHECK(r.budget_reached);
  CHECK(r.history.back().elapsed_seconds == 5.0);
  CHECK(latest_checkpoint(c.out_dir) == c.out_dir / "checkpoints/step_00000005");
  // Resumed with a larger budget, the time so far counts: 3 more steps fit in 8.5 s.
  c.resume = true;
  c.time_budget_seconds = 8.5;
  r = train(model, c);
  CHECK(r.start_step == 5);
  CHECK(r.final_step == 8);
  CHECK(r.budget_reached);
  // Resumed with a budget already used up (8 s of 8), it does nothing. (With time left, the first
  // step of a call is always started: its duration is not known yet.)
  c.time_budget_seconds = 8;
  r = train(model, c);
  CHECK(r.final_step == 8);
  CHECK(r.history.empty());
  CHECK(r.budget_reached);
  fs::remove_all(dir);
}

TEST_CASE("train: the budget and Ctrl-C stop a step of many micro-batches part-way; resume redoes it exactly",
          "[trainer][budget][resume]") {
  fs::path dir = make_run_dir("budget_accum");
  double now = 0;
  TrainConfig c = clocked_config(dir, now);
  c.grad_accum_steps = 8;
  c.steps = 4;

  c.out_dir = dir / "straight";
  TimedBigram straight(now, [](int) { return 0.0; });
  std::vector<float> expected = losses(train(straight, c));
  REQUIRE(expected.size() == 4);

  // 1 s per micro-batch for step 1, then the machine slows to 3 s: step 2 looked as if it would
  // end at 16 s, but passes the 20 s budget after its fifth micro-batch (23 s) and is abandoned.
  c.out_dir = dir / "budget";
  c.time_budget_seconds = 20;
  now = 0;
  TimedBigram slowed(now, [](int n) { return n < 8 ? 1.0 : 3.0; });
  TrainResult r = train(slowed, c);
  CHECK(r.final_step == 1);
  CHECK(r.budget_reached);
  CHECK(now == 23.0);  // it did not go on through the last three micro-batches
  REQUIRE(latest_checkpoint(c.out_dir) == c.out_dir / "checkpoints/step_00000001");
  CHECK(read_metrics_csv(c.out_dir / "metrics.csv").size() == 1);
  c.resume = true;
  c.time_budget_seconds = 0;
  TimedBigram resumed(now, [](int) { return 0.0; });
  TrainResult rest = train(resumed, c);
  std::vector<float> got = losses(r);
  for (float l : losses(rest)) got.push_back(l);
  CHECK(got == expected);  // bit for bit: the abandoned step's micro-batches were given back
  CHECK(std::vector<float>(resumed.params().begin(), resumed.params().end()) ==
        std::vector<float>(straight.params().begin(), straight.params().end()));

  // Ctrl-C in the middle of step 3 (its 4th micro-batch): the checkpoint is step 2's.
  c.out_dir = dir / "ctrl_c";
  c.resume = false;
  TimedBigram interrupted(
      now, [](int) { return 0.0; },
      [](int n) {
        if (n == 19) std::raise(SIGINT);
      });
  r = train(interrupted, c);
  CHECK(r.final_step == 2);
  CHECK(r.interrupted);
  CHECK(!r.budget_reached);
  CHECK(latest_checkpoint(c.out_dir) == c.out_dir / "checkpoints/step_00000002");
  c.resume = true;
  TimedBigram again(now, [](int) { return 0.0; });
  rest = train(again, c);
  got = losses(r);
  for (float l : losses(rest)) got.push_back(l);
  CHECK(got == expected);
  fs::remove_all(dir);
}

TEST_CASE(
    "train: a NaN loss or an infinite gradient stops the run before its update; the last checkpoint stays "
    "good",
    "[trainer][divergence]") {
  for (const bool bad_gradient : {false, true}) {
    INFO((bad_gradient ? "infinite gradient" : "NaN loss"));
    fs::path dir = make_run_dir("diverge");
    TrainConfig c = small_config(dir);
    c.val_file.clear();
    c.checkpoint_interval = 2;
    DivergingBigram model(/*bad_call=*/4, bad_gradient);  // the fifth step's forward pass
    std::vector<float> before;
    int steps_seen = 0;
    const std::string e = [&] {
      try {
        train(model, c, [&](const StepMetrics& m) {
          steps_seen = m.step;
          before.assign(model.params().begin(), model.params().end());
        });
      } catch (const gpt2::Error& err) {
        return std::string(err.what());
      }
      return std::string("no error");
    }();
    CHECK(steps_seen == 4);
    CHECK_THAT(e, Catch::Contains("step 5: the loss is "));
    CHECK_THAT(e, Catch::Contains("the training has diverged"));
    CHECK_THAT(e, Catch::Contains("the last good checkpoint is " +
                                  (c.out_dir / "checkpoints/step_00000004").string()));
    // The bad step was not applied, and nothing was saved after step 4.
    CHECK(std::vector<float>(model.params().begin(), model.params().end()) == before);
    for (float p : model.params()) REQUIRE(std::isfinite(p));
    CHECK(latest_checkpoint(c.out_dir) == c.out_dir / "checkpoints/step_00000004");
    CHECK(read_metrics_csv(c.out_dir / "metrics.csv").size() == 4);
    BigramModel reloaded(kV);
    AdamW opt(reloaded.backend(), reloaded.params().size(), decay_ranges(reloaded.param_infos()), {});
    CHECK(load_checkpoint(c.out_dir / "checkpoints/step_00000004", reloaded, opt).step == 4);
    fs::remove_all(dir);
  }
}

TEST_CASE("state.json: every field is checked for its type and range, and errors name the file",
          "[checkpoint]") {
  TrainingState s;
  s.step = 12;
  s.train_loader = {3, 40, 0x9E3779B97F4A7C15ull};
  s.elapsed_seconds = 1.5;
  s.batch_size = 4;
  s.seq_len = 16;
  s.grad_accum_steps = 2;
  s.seed = 18446744073709551615ull;  // 2^64 - 1: stored as a string, read back exactly
  const std::string good = training_state_to_json(s);
  const TrainingState back = training_state_from_json(good, "state.json");
  CHECK(back.step == 12);
  CHECK(back.train_loader == s.train_loader);
  CHECK(back.seed == s.seed);
  auto edited = [&](const std::string& key, const nlohmann::json& value) {
    nlohmann::json j = nlohmann::json::parse(good);
    if (key.rfind("train_loader.", 0) == 0) {
      j["train_loader"][key.substr(13)] = value;
    } else {
      j[key] = value;
    }
    try {
      training_state_from_json(j.dump(), "ck/state.json");
    } catch (const gpt2::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  // Numbers a plain get<int>() would cast silently (or with undefined behaviour).
  CHECK(edited("step", 1e30) == "ck/state.json: 'step' must be an integer, got 1e+30");
  CHECK(edited("step", 2.5) == "ck/state.json: 'step' must be an integer, got 2.5");
  CHECK(edited("step", 4294967296) == "ck/state.json: 'step' = 4294967296 is out of range [0, 2147483647]");
  CHECK(edited("step", -1) == "ck/state.json: 'step' = -1 is out of range [0, 2147483647]");
  CHECK(edited("batch_size", 0) == "ck/state.json: 'batch_size' = 0 is out of range [1, 2147483647]");
  CHECK(edited("elapsed_seconds", "soon") ==
        "ck/state.json: 'elapsed_seconds' must be a number, got \"soon\"");
  CHECK(edited("elapsed_seconds", -3.0) ==
        "ck/state.json: 'elapsed_seconds' must be a finite number >= 0, got -3");
  CHECK(edited("train_loader.position", -2) ==
        "ck/state.json: 'position' = -2 is out of range [0, 9223372036854775807]");
  // 64-bit values are decimal strings: "-1" (which std::stoull would wrap around) and "12x" are not.
  CHECK(edited("seed", "-1") ==
        "ck/state.json: 'seed' must be a decimal string of a 64-bit value, got \"-1\"");
  CHECK(edited("seed", "12x") ==
        "ck/state.json: 'seed' must be a decimal string of a 64-bit value, got \"12x\"");
  CHECK(edited("seed", "18446744073709551616") ==
        "ck/state.json: 'seed' must be a decimal string of a 64-bit value, got \"18446744073709551616\"");
  CHECK(edited("train_loader.epoch_rng_state", 5) ==
        "ck/state.json: 'epoch_rng_state' must be a decimal string of a 64-bit value, got 5");
  CHECK(edited("train_loader", 5) == "ck/state.json: 'train_loader' must be an object, got 5");
  CHECK_THROWS_WITH(training_state_from_json("{\"step\": 1e999}", "ck/state.json"),
                    Catch::StartsWith("ck/state.json: not a JSON object"));
}

TEST_CASE("train: a full disk stops the run with a clear error; the last checkpoint stays good and resumes",
          "[trainer][checkpoint]") {
  fs::path dir = make_run_dir("full_disk");
  TrainConfig c = small_config(dir);
  c.val_file.clear();
  c.checkpoint_interval = 5;
  c.steps = 20;
  c.out_dir = dir / "straight";
  BigramModel straight(kV);
  const std::vector<float> expected = losses(train(straight, c));

  c.out_dir = dir / "run";
  BigramModel model(kV);
  std::vector<float> got = losses(train(model, c, [](const StepMetrics& m) {
    if (m.step == 10) request_stop();
  }));
  // The disk fills up (simulated: no file of this process may grow past 100 bytes).
  c.resume = true;
  {
    rlimit saved{};
    getrlimit(RLIMIT_FSIZE, &saved);
    rlimit full = saved;
    full.rlim_cur = 100;
    std::signal(SIGXFSZ, SIG_IGN);
    setrlimit(RLIMIT_FSIZE, &full);
    BigramModel resumed(kV);
    std::string e = "no error";
    try {
      train(resumed, c);
    } catch (const gpt2::Error& err) {
      e = err.what();
    }
    setrlimit(RLIMIT_FSIZE, &saved);
    CHECK_THAT(e, Catch::StartsWith("cannot"));
    CHECK_THAT(e, Catch::Contains((c.out_dir).string()));
  }
  CHECK(latest_checkpoint(c.out_dir) == c.out_dir / "checkpoints/step_00000010");
  // With room again, the run resumes from it as if nothing had happened.
  BigramModel again(kV);
  for (float l : losses(train(again, c))) got.push_back(l);
  CHECK(got == expected);
  fs::remove_all(dir);
}
