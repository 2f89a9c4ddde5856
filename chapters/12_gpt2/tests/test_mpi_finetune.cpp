// gpt2 finetune under mpirun, with the real binary:
//  - `mpirun -np 2 gpt2 finetune` (one thread per rank) against one process with --grad-accum 2
//    (two threads), for every way of training both tasks (classify: everything, --head-only,
//    --train-last, LoRA; sft: everything, --train-last with packed rows, LoRA), each with several
//    buckets: the same metrics.csv numbers, and the same bytes of the model, the adapter, and
//    every checkpoint's trainable weights and optimizer state. The model's dropout is on (so each
//    micro-batch must get its masks of one process), the classification batches weigh by their
//    labelled rows and SFT's by their answer tokens;
//  - with ZeRO-1 and buckets, on a model big enough for each rank to own a shard, and on a LoRA
//    adapter small enough that rank 1 owns nothing;
//  - a 2-rank run stopped after its first step resumes on 2 ranks, and in one process with
//    --grad-accum 2, exactly;
//  - a rank failing on a bad examples file ends the job in bounded time, naming the rank and the
//    file, and leaves no run behind.
// Every job runs with a hard time limit of its own (run_job.h).
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "chapters/05_gpt2_model/backend.h"
#include "chapters/05_gpt2_model/gpt2.h"
#include "chapters/06_training/checkpoint.h"
#include "chapters/12_gpt2/tests/mpi_jobs.h"
#include "common/file_io.h"
#include "common/testing.h"
#include "tests/catch.h"

using namespace ch12_test;
using nlohmann::json;

namespace {

// The tiny chat model of chapter 12's fixtures: 2 blocks, 32 channels, one token per byte, and
// dropout 0.1 in its config.json.
fs::path chat_model() {
  return fs::path(gpt2::fixture_dir()) / "12_chat_model";
}

// A bigger model of that tokenizer with random weights (366,528 parameters: more than two of the
// gradient norm's chunks of 65,536, so that ZeRO-1 gives each of two ranks a shard) and dropout
// 0.1, made once.
const fs::path& bigger_model() {
  static const fs::path dir = [] {
    gpt2::GPT2Config config = gpt2::GPT2Config::make(3, 3, 96, 64, 257);
    config.dropout = {0.1f, 0.1f, 0.1f};
    gpt2::CpuBackend cpu;
    gpt2::GPT2 model(config, cpu);
    model.init_random(7);
    model.save(work() / "bigger_model", chat_model());
    return work() / "bigger_model";
  }();
  return dir;
}

// Texts of two classes ("aaaa ..." is A, "bbbb ..." is B) of 1 to 4 words, so that batches pad.
const fs::path& classes() {
  static const fs::path file = [] {
    std::string text;
    for (int i = 0; i < 40; ++i) {
      const bool a = i % 2 == 1;
      std::string t;
      for (int k = 0; k <= i % 4; ++k) t += a ? "aaaa " : "bbbb ";
      text += json{{"text", t}, {"label", a ? "A" : "B"}}.dump() + "\n";
    }
    gpt2::write_file_atomic(work() / "classes.jsonl", text);
    return work() / "classes.jsonl";
  }();
  return file;
}

// Instructions whose answers have 3 to 9 tokens, so that the micro-batches of a step have
// different numbers of targets (and so different weights).
const fs::path& instructions() {
  static const fs::path file = [] {
    const char* words[] = {"cat", "dog", "sun"};
    std::string text;
    for (int i = 0; i < 30; ++i) {
      std::string answer;
      for (int k = 0; k <= i % 3; ++k) answer += words[(i + k) % 3];
      text += json{{"instruction", std::string("Say ") + words[i % 3]}, {"input", ""}, {"output", answer}}
                  .dump() +
              "\n";
    }
    gpt2::write_file_atomic(work() / "instructions.jsonl", text);
    return work() / "instructions.jsonl";
  }();
  return file;
}

// A run of 6 steps of `task` (validation and checkpoints every 3) from `model`, on the task's
// examples (or `train`), without its --out.
std::vector<std::string> finetune_args(const std::string& task, const fs::path& model = chat_model(),
                                       fs::path train = {}) {
  const fs::path& data = task == "classify" ? classes() : instructions();
  if (train.empty()) train = data;
  // clang-format off
  return {"finetune", "--task", task, "--model", model.string(), "--train", train.string(),
          "--val", data.string(), "--batch-size", "4", "--steps", "6", "--warmup", "2", "--lr", "3e-3",
          "--eval-interval", "3", "--eval-steps", "3", "--checkpoint-interval", "3", "--no-progress"};
  // clang-format on
}
std::vector<std::string> out(const fs::path& dir) {
  return {"--out", dir.string()};
}

// The same numbers and the same bytes of every file a run leaves but those that measure time.
void check_same_run(const fs::path& a, const fs::path& b) {
  INFO(a.string() << " against " << b.string());
  const std::string numbers = numbers_of(a);
  CHECK(!numbers.empty());
  CHECK(numbers == numbers_of(b));
  int files = 0;
  for (const fs::path& dir : {a / "model", a / "adapter", a / "checkpoints"}) {
    if (!fs::exists(dir)) continue;
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
      if (!entry.is_regular_file() || entry.path().filename() == "state.json") continue;  // (its time)
      const fs::path other = b / fs::relative(entry.path(), a);
      INFO(other.string());
      REQUIRE(fs::exists(other));
      CHECK(bytes_of(entry.path()) == bytes_of(other));
      ++files;
    }
  }
  CHECK(files >= 6);  // the model's (3 and more), and each checkpoint's trainable.safetensors and optimizer's
  for (int step : {3, 6}) CHECK(fs::exists(gpt2::checkpoint_dir(a, step) / "optimizer.safetensors"));
}

// `gpt2 finetune args` alone with --grad-accum 2, and on 2 ranks with `sharing`: the same run.
// Returns the 2-rank job's output.
std::string check_two_ranks(const std::string& name, const std::vector<std::string>& args,
                            const std::vector<std::string>& sharing) {
  INFO(name);
  const fs::path one = work() / (name + "_one"), two = work() / (name + "_two");
  const Outcome reference = alone(args + out(one) + std::vector<std::string>{"--grad-accum", "2"});
  INFO(reference.output);
  REQUIRE(reference.status == 0);
  const Outcome o = run_job(mpirun({ranks(2, args + sharing + out(two))}), kLimitSeconds);
  INFO(o.output);
  REQUIRE(o.status == 0);
  CHECK_THAT(o.output, Catch::Contains("data parallel over 2 ranks"));
  check_same_run(two, one);
  // Rank 0 alone spoke and wrote: one summary, which knows about both ranks.
  CHECK(o.output.find("saved ") == o.output.rfind("saved "));
  CHECK(json::parse(bytes_of(two / "summary.json"))["ranks"] == 2);
  return o.output;
}

}  // namespace

TEST_CASE("mpirun -np 2 gpt2 finetune equals one process with --grad-accum 2, byte for byte", "[mpi]") {
  // The buckets: several for each, sent during backward where the model reports final gradients
  // (no attached layers: SFT of everything or of the last block, whose frozen blocks report
  // nothing), else all at its end (a head or LoRA attached; the head alone: no report at all).
  struct Way {
    std::string name, task;
    std::vector<std::string> flags;
    std::string bucket_mb, buckets;  // the option, and the start message's count
    bool overlaps;
  };
  const std::vector<Way> ways = {
      {"classify_everything", "classify", {}, "0.02", "8 buckets of 20.0 kB", false},
      {"classify_head", "classify", {"--head-only"}, "0.0001", "3 buckets of 0.1 kB", false},
      {"classify_last", "classify", {"--train-last", "1"}, "0.02", "3 buckets of 20.0 kB", false},
      {"classify_lora", "classify", {"--lora-rank", "4"}, "0.001", "5 buckets of 1.0 kB", false},
      {"sft_everything", "sft", {}, "0.02", "8 buckets of 20.0 kB", true},
      {"sft_last", "sft", {"--train-last", "1", "--layout", "pack"}, "0.02", "3 buckets of 20.0 kB", true},
      {"sft_lora", "sft", {"--lora-rank", "4", "--lora-targets", "all-linear"}, "0.004", "5 buckets", false},
  };
  for (const Way& w : ways) {
    const std::string output =
        check_two_ranks(w.name, finetune_args(w.task) + w.flags, {"--bucket-mb", w.bucket_mb});
    CHECK_THAT(output, Catch::Contains(w.buckets));
    if (w.overlaps) {
      CHECK_THAT(output, !Catch::Contains("sent once backward is done"));
    } else {
      CHECK_THAT(output, Catch::Contains("sent once backward is done"));
    }
    if (w.name.find("lora") != std::string::npos) CHECK(fs::exists(work() / (w.name + "_two") / "adapter"));
  }
}

TEST_CASE("mpirun -np 2 gpt2 finetune --zero1: the same run, with each rank's share of AdamW", "[mpi]") {
  // Full SFT of the bigger model: a shard on each rank, buckets of 0.3 MB (rounded to whole norm
  // chunks: 3 buckets) that go out while backward runs.
  std::string output =
      check_two_ranks("zero1_sft", finetune_args("sft", bigger_model()), {"--zero1", "--bucket-mb", "0.3"});
  CHECK_THAT(output, Catch::Contains("3 buckets") &&
                         Catch::Contains("ZeRO-1: AdamW's moments 1.6 MB on rank 0 instead of 2.9 MB"));
  // A LoRA classifier: its 1,088 trainable numbers are less than one chunk, all rank 0's.
  output = check_two_ranks(
      "zero1_lora", finetune_args("classify") + std::vector<std::string>{"--lora-rank", "4"}, {"--zero1"});
  CHECK_THAT(output, Catch::Contains("ZeRO-1: AdamW's moments"));
}

TEST_CASE("gpt2 finetune stopped on 2 ranks resumes exactly, on 2 ranks or in one process", "[mpi]") {
  const fs::path straight = work() / "resume_straight", stopped = work() / "resume_stopped",
                 copy = work() / "resume_copy";
  const std::vector<std::string> sharing = {"--zero1", "--bucket-mb", "0.3"};
  const Outcome reference = alone(finetune_args("sft", bigger_model()) + out(straight) +
                                  std::vector<std::string>{"--grad-accum", "2"});
  INFO(reference.output);
  REQUIRE(reference.status == 0);
  // A time budget shorter than a step stops the run after its first step, with a checkpoint.
  const Outcome o = run_job(mpirun({ranks(2, finetune_args("sft", bigger_model()) + out(stopped) + sharing +
                                                 std::vector<std::string>{"--time-budget", "1e-6"})}),
                            kLimitSeconds);
  INFO(o.output);
  REQUIRE(o.status == 0);
  CHECK_THAT(o.output, Catch::Contains("1/6 steps") &&
                           Catch::Contains("continue with: mpirun -np 2 gpt2 finetune --resume"));
  const gpt2::TrainingState state =
      gpt2::training_state_from_json(bytes_of(gpt2::checkpoint_dir(stopped, 1) / "state.json"), "state.json");
  CHECK(state.grad_accum_steps == 2);  // 2 ranks x 1 micro-batch
  fs::copy(stopped, copy, fs::copy_options::recursive);

  const Outcome resumed =
      run_job(mpirun({ranks(2, std::vector<std::string>{"finetune", "--resume", stopped.string(),
                                                        "--time-budget", "1e6", "--no-progress"} +
                                   sharing)}),
              kLimitSeconds);
  INFO(resumed.output);
  REQUIRE(resumed.status == 0);
  check_same_run(stopped, straight);
  const Outcome solo = alone(
      {"finetune", "--resume", copy.string(), "--time-budget", "1e6", "--grad-accum", "2", "--no-progress"});
  INFO(solo.output);
  REQUIRE(solo.status == 0);
  check_same_run(copy, straight);
}

TEST_CASE("A rank failing on a bad examples file ends the job, naming the rank and the file",
          "[mpi][faults]") {
  const fs::path bad = work() / "bad.jsonl", failed = work() / "failed";
  gpt2::write_file_atomic(bad, "{\"text\": \"aaaa\", \"label\": \"A\"}\nthis line is not JSON\n");
  // MPMD: rank 0 has the real examples, rank 1 the broken file.
  const Outcome o = run_job(mpirun({ranks(1, finetune_args("classify") + out(failed)),
                                    ranks(1, finetune_args("classify", chat_model(), bad) + out(failed))}),
                            kLimitSeconds);
  INFO(o.output);
  CHECK_FALSE(o.timed_out);
  CHECK(o.seconds < kBoundSeconds);
  CHECK(o.status == 1);
  CHECK_THAT(o.output, Catch::Contains("error: rank 1 of 2") && Catch::Contains("bad.jsonl"));
  CHECK_FALSE(fs::exists(failed / "run.json"));  // nothing was written
}
