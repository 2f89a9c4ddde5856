// gpt2 train under mpirun, with the real binary (chapter 11's promises, end to end):
//  - `mpirun -np 2 gpt2 train` (one thread per rank) against one process with --grad-accum 2 (two
//    threads): the same metrics.csv numbers, model.safetensors and optimizer.safetensors, byte for
//    byte, with the fast and the plain kernels, with and without ZeRO-1, with buckets;
//  - a rank killed with SIGKILL in the middle of a run ends the job, naming the rank and the
//    signal, in bounded time; the last checkpoint is intact, and the run resumed from it (on 2
//    ranks, or in one process with --grad-accum 2) ends exactly like a run that never stopped;
//  - a rank failing on a bad token file ends the job with that error, leaving the run that was
//    in the directory untouched; ranks given other options are named; a command that does not
//    train refuses to run on several ranks.
// Every job runs with a hard time limit of its own (run_job.h).
#include <signal.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "chapters/05_gpt2_model/config.h"
#include "chapters/05_gpt2_model/parameters.h"
#include "chapters/06_training/adamw.h"
#include "chapters/06_training/checkpoint.h"
#include "chapters/12_gpt2/tests/mpi_jobs.h"
#include "common/file_io.h"
#include "tests/catch.h"

using namespace ch12_test;

namespace {

// Prepared data (the bytes of 100 KB of tiny Shakespeare, V = 256), made once.
const fs::path& data() {
  static const fs::path dir = [] {
    const std::string text =
        gpt2::read_file(fs::path(GPT2_DATA_DIR) / "tinyshakespeare.txt").substr(0, 100000);
    gpt2::write_file_atomic(work() / "text.txt", text);
    const Outcome o = alone({"prepare", "--input", (work() / "text.txt").string(), "--vocab-size", "256",
                             "--out", (work() / "data").string()});
    INFO(o.output);
    REQUIRE(o.status == 0);
    return work() / "data";
  }();
  return dir;
}

// A model of 363,360 parameters (more than two of the norm's chunks of 65,536, so ZeRO-1 gives
// each rank its own), steps of a few milliseconds.
const gpt2::GPT2Config kShape = gpt2::GPT2Config::make(3, 3, 96, 32, 256);
std::vector<std::string> train_args(const fs::path& out, int steps, int interval = 3) {
  const std::string n = std::to_string(interval);  // validation and checkpoints every n steps
  // clang-format off
  return {"train", "--data", data().string(), "--out", out.string(),
          "--n-layer", "3", "--n-head", "3", "--n-embd", "96", "--context", "32", "--batch-size", "4",
          "--steps", std::to_string(steps), "--warmup", "3", "--lr", "3e-3",
          "--eval-interval", n, "--eval-steps", "3", "--checkpoint-interval", n, "--no-progress"};
  // clang-format on
}

void check_same_run(const fs::path& a, const fs::path& b) {
  INFO(a.string() << " against " << b.string());
  const std::string numbers = numbers_of(a);
  CHECK(!numbers.empty());
  CHECK(numbers == numbers_of(b));
  CHECK(bytes_of(a / "model" / "model.safetensors") == bytes_of(b / "model" / "model.safetensors"));
}

// The pid printed for rank r in the start message ("rank 1 of 2 (host h, pid 4242)"), or -1.
pid_t pid_of_rank(const std::string& output, int r) {
  std::smatch m;
  const std::regex pattern("rank " + std::to_string(r) + " of [0-9]+ \\(host [^,]*, pid ([0-9]+)\\)");
  return std::regex_search(output, m, pattern) ? static_cast<pid_t>(std::stol(m[1])) : -1;
}

}  // namespace

TEST_CASE("mpirun -np 2 gpt2 train equals one process with --grad-accum 2, byte for byte", "[mpi]") {
  for (const bool plain : {false, true}) {
    const std::vector<std::string> kernels =
        plain ? std::vector<std::string>{"--plain-kernels"} : std::vector<std::string>{};
    const fs::path one = work() / (plain ? "one_plain" : "one_fast");
    const Outcome reference =
        alone(train_args(one, 6) + kernels + std::vector<std::string>{"--grad-accum", "2"});
    INFO(reference.output);
    REQUIRE(reference.status == 0);
    for (const bool zero1 : {false, true}) {
      const fs::path two = work() / (std::string(plain ? "two_plain" : "two_fast") + (zero1 ? "_zero1" : ""));
      std::vector<std::string> args =
          train_args(two, 6) + kernels + std::vector<std::string>{"--bucket-mb", "0.5"};
      if (zero1) args.push_back("--zero1");
      const Outcome o = run_job(mpirun({ranks(2, args)}), kLimitSeconds);
      INFO("plain " << plain << ", zero1 " << zero1 << "\n" << o.output);
      REQUIRE(o.status == 0);
      CHECK_THAT(o.output, Catch::Contains("data parallel over 2 ranks") && Catch::Contains("3 buckets"));
      if (zero1) CHECK_THAT(o.output, Catch::Contains("ZeRO-1: AdamW's moments"));
      check_same_run(two, one);
      // The optimizer's state too (with ZeRO-1 gathered from the two shards into one file).
      for (int step : {3, 6}) {
        CHECK(bytes_of(gpt2::checkpoint_dir(two, step) / "optimizer.safetensors") ==
              bytes_of(gpt2::checkpoint_dir(one, step) / "optimizer.safetensors"));
      }
      // Rank 0 alone spoke and wrote: one summary, which knows about both ranks.
      CHECK(o.output.find("saved ") == o.output.rfind("saved "));
      const std::string summary = bytes_of(two / "summary.json");
      CHECK_THAT(summary, Catch::Contains("\"ranks\": 2"));
      // With 3 buckets, part of the reduce started during backward, and no more than that arrived.
      const nlohmann::json s = nlohmann::json::parse(summary);
      REQUIRE(s["reduce_started_in_backward"].size() == 2);
      for (int r = 0; r < 2; ++r) {
        CHECK(s["reduce_started_in_backward"][r].get<double>() > 0.0);
        CHECK(s["reduce_started_in_backward"][r].get<double>() <= 1.0);
        CHECK(s["reduce_arrived_in_backward"][r].get<double>() <=
              s["reduce_started_in_backward"][r].get<double>());
      }
    }
  }
}

TEST_CASE("mpirun -np 2 gpt2 train: the evaluation after the last step reports one process's loss", "[mpi]") {
  // 5 steps with validation every 4: the last step was not measured, so the loss in summary.json
  // is measured after training, by every rank (each takes every other batch of the 3: a rank that
  // skipped it would leave the other waiting in the gather: the job would fail or time out).
  const fs::path one = work() / "final_eval_one", two = work() / "final_eval_two";
  const Outcome reference = alone(train_args(one, 5, 4) + std::vector<std::string>{"--grad-accum", "2"});
  INFO(reference.output);
  REQUIRE(reference.status == 0);
  const Outcome o = run_job(mpirun({ranks(2, train_args(two, 5, 4))}), kLimitSeconds);
  INFO(o.output);
  REQUIRE(o.status == 0);
  check_same_run(two, one);
  const nlohmann::json a = nlohmann::json::parse(bytes_of(one / "summary.json"));
  const nlohmann::json b = nlohmann::json::parse(bytes_of(two / "summary.json"));
  REQUIRE(a["val_loss"].is_number());
  CHECK(std::isfinite(a["val_loss"].get<double>()));
  CHECK(b["val_loss"] == a["val_loss"]);
  // Not the step-4 loss that metrics.csv holds: the model after step 5.
  CHECK(a["val_loss"].get<double>() != gpt2::read_metrics_csv(one / "metrics.csv")[3].val_loss);
}

TEST_CASE(
    "A rank killed mid-run ends the job in bounded time; the run resumes exactly from the last checkpoint",
    "[mpi][faults]") {
  const int steps = 60, interval = 5;
  const fs::path unbroken = work() / "unbroken", run = work() / "killed", copy = work() / "killed_copy";
  const Outcome reference =
      alone(train_args(unbroken, steps, interval) + std::vector<std::string>{"--grad-accum", "2"});
  INFO(reference.output);
  REQUIRE(reference.status == 0);

  // Kill rank 1 once a few steps are done and a checkpoint is written.
  pid_t killed = -1, survivor = -1;
  std::chrono::steady_clock::time_point kill_time;
  const Outcome o = run_job(mpirun({ranks(2, train_args(run, steps, interval))}), kLimitSeconds,
                            [&](const std::string& out) {
                              if (killed > 0) return;
                              const pid_t pid = pid_of_rank(out, 1);
                              std::error_code ec;
                              if (pid <= 0 || !fs::exists(run / "metrics.csv", ec)) return;
                              if (gpt2::read_metrics_csv(run / "metrics.csv").size() <= interval) return;
                              survivor = pid_of_rank(out, 0);
                              killed = pid;
                              kill(pid, SIGKILL);
                              kill_time = std::chrono::steady_clock::now();
                            });
  INFO(o.output);
  REQUIRE(killed > 0);  // the job was still running when the test was ready to kill
  const double after_kill =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - kill_time).count();
  CHECK_FALSE(o.timed_out);
  CHECK(o.status != 0);
  CHECK(after_kill < kBoundSeconds);
  CHECK_THAT(o.output, Catch::Contains("rank 1") && Catch::Contains("signal 9"));
  for (int tries = 0; tries < 50 && !ch11_test::is_gone(survivor); ++tries) usleep(100 * 1000);
  CHECK(ch11_test::is_gone(survivor));  // mpirun took rank 0 down too

  // The last checkpoint is complete and reads back.
  const std::optional<fs::path> last = gpt2::latest_checkpoint(run);
  REQUIRE(last);
  const gpt2::TrainingState state =
      gpt2::training_state_from_json(gpt2::read_file(*last / "state.json"), (*last / "state.json").string());
  CHECK(state.step >= interval);
  CHECK(state.step < steps);
  CHECK(state.grad_accum_steps == 2);  // 2 ranks x 1 micro-batch
  CHECK_NOTHROW(gpt2::read_adamw_state(*last / "optimizer.safetensors",
                                       static_cast<size_t>(gpt2::count_parameters(kShape))));
  fs::copy(run, copy, fs::copy_options::recursive);

  // Resumed on 2 ranks, and (a copy) in one process with --grad-accum 2: both as if unbroken.
  const Outcome resumed =
      run_job(mpirun({ranks(2, {"train", "--resume", run.string(), "--no-progress"})}), kLimitSeconds);
  INFO(resumed.output);
  REQUIRE(resumed.status == 0);
  check_same_run(run, unbroken);
  const Outcome solo = alone({"train", "--resume", copy.string(), "--grad-accum", "2", "--no-progress"});
  INFO(solo.output);
  REQUIRE(solo.status == 0);
  check_same_run(copy, unbroken);
  // Not with another global batch: the checkpoint knows its 2 micro-batches per step.
  const Outcome wrong =
      alone({"train", "--resume", copy.string(), "--grad-accum", "1", "--steps", "200", "--no-progress"});
  CHECK(wrong.status == 1);
  CHECK_THAT(wrong.output, Catch::Contains("grad_accum_steps=2"));
}

TEST_CASE("A rank failing on a bad file ends the job with its error and leaves the run there untouched",
          "[mpi][faults]") {
  // A finished run in the directory the failing job is told to replace (--force).
  const fs::path run = work() / "kept";
  const Outcome first = alone(train_args(run, 3));
  INFO(first.output);
  REQUIRE(first.status == 0);
  std::vector<std::pair<fs::path, std::string>> before;
  for (const auto& entry : fs::recursive_directory_iterator(run)) {
    if (entry.is_regular_file()) before.emplace_back(entry.path(), bytes_of(entry.path()));
  }
  const fs::path bad = work() / "bad.bin";
  gpt2::write_file_atomic(bad, "this is not a token file, just text\n");
  auto with_train = [&](const fs::path& train) {
    return std::vector<std::string>{"train",
                                    "--train",
                                    train.string(),
                                    "--val",
                                    (data() / "val.bin").string(),
                                    "--tokenizer",
                                    (data() / "tokenizer").string(),
                                    "--out",
                                    run.string(),
                                    "--force",
                                    "--steps",
                                    "5",
                                    "--n-layer",
                                    "1",
                                    "--n-embd",
                                    "32",
                                    "--n-head",
                                    "2",
                                    "--context",
                                    "32",
                                    "--no-progress"};
  };
  // MPMD: rank 0 has the real data, rank 1 a broken copy.
  const Outcome o =
      run_job(mpirun({ranks(1, with_train(data() / "train.bin")), ranks(1, with_train(bad))}), kLimitSeconds);
  INFO(o.output);
  CHECK_FALSE(o.timed_out);
  CHECK(o.seconds < kBoundSeconds);
  CHECK(o.status == 1);
  CHECK_THAT(o.output, Catch::Contains("error: rank 1 of 2") && Catch::Contains("bad.bin"));
  for (const auto& [path, bytes] : before) {
    INFO(path.string());
    CHECK(bytes_of(path) == bytes);
  }

  // Ranks given other options are caught at start and named.
  std::vector<std::string> args = train_args(work() / "disagree", 3);
  const Outcome other = run_job(
      mpirun({ranks(1, args), ranks(1, args + std::vector<std::string>{"--lr", "1e-2"})}), kLimitSeconds);
  INFO(other.output);
  CHECK(other.status == 1);
  CHECK_THAT(other.output, Catch::Contains("rank 1 has another 'options' than rank 0"));
  CHECK_FALSE(fs::exists(work() / "disagree" / "run.json"));  // nothing was written

  // A command that does not train refuses to run as several ranks.
  const Outcome encode = run_job(mpirun({ranks(2, {"encode"})}), kLimitSeconds);
  CHECK(encode.status == 1);
  CHECK_THAT(encode.output, Catch::Contains("gpt2 encode runs in one process"));
}
