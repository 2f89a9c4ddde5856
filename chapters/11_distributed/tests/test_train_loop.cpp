// Chapter 06's whole training loop, train(), on N ranks (DataParallelRun) against the same loop in
// one process with N·K micro-batches per step: the same losses, norms, validation losses, weights
// and checkpoint files, bit for bit; a stop asked for on one rank stops all of them at the same
// step; a run stopped part-way resumes exactly, on N ranks or in one process; the time budget
// follows rank 0's clock. The one-process reference runs on every rank, in a directory of its own.
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "chapters/05_gpt2_model/backend.h"
#include "chapters/05_gpt2_model/gpt2.h"
#include "chapters/06_training/checkpoint.h"
#include "chapters/06_training/data_loader.h"
#include "chapters/06_training/gpt2_trainable.h"
#include "chapters/06_training/stop_signal.h"
#include "chapters/06_training/tests/bigram_model.h"
#include "chapters/06_training/token_file.h"
#include "chapters/06_training/trainer.h"
#include "chapters/11_distributed/data_parallel_run.h"
#include "chapters/11_distributed/tests/layered_model.h"
#include "chapters/11_distributed/tests/mpi_test.h"
#include "chapters/11_distributed/tests/test_util.h"
#include "common/file_io.h"
#include "common/rng.h"
#include "tests/catch.h"

namespace fs = std::filesystem;

namespace {

using ch11_test::world;

// A directory every rank agrees on (rank 0's pid in its name), and one of this rank's own.
fs::path shared_dir(const std::string& name) {
  const long pid = static_cast<long>(getpid());
  const long rank0 = world().all_gather_values<long>(std::span<const long>(&pid, 1))[0];
  return fs::temp_directory_path() / ("gpt2_ch11_" + name + "_" + std::to_string(rank0));
}
fs::path own_dir(const std::string& name) {
  return fs::temp_directory_path() / ("gpt2_ch11_" + name + "_" + std::to_string(getpid()));
}

// Token files of a stream a bigram model can learn (the next token is mostly 7x + 3 mod V), the
// same on every rank (each rank writes its own copy).
void write_data(const fs::path& dir, int V) {
  fs::remove_all(dir);
  gpt2::create_directories(dir);
  gpt2::Rng rng(17);
  std::vector<int32_t> tokens{1};
  for (int i = 0; i < 4000; ++i) {
    tokens.push_back(rng.uniform() < 0.7f ? (7 * tokens.back() + 3) % V : static_cast<int>(rng.below(V)));
  }
  gpt2::write_token_file(dir / "train.bin", std::span(tokens).first(3500));
  gpt2::write_token_file(dir / "val.bin", std::span(tokens).subspan(3500));
}

gpt2::TrainConfig config_for(const fs::path& data, const fs::path& out, int K) {
  gpt2::TrainConfig c;
  c.train_file = data / "train.bin";
  c.val_file = data / "val.bin";
  c.out_dir = out;
  c.batch_size = 2;
  c.seq_len = 8;
  c.grad_accum_steps = K;
  c.steps = 6;
  c.lr = 0.02f;
  c.min_lr = 0.002f;
  c.warmup_steps = 2;
  c.grad_clip = 0.5f;  // small: the norm decides the update
  c.eval_interval = 3;
  c.eval_steps = 5;  // not a multiple of the ranks: the validation is shared out unevenly
  c.checkpoint_interval = 3;
  c.progress = false;
  return c;
}

// What is compared between two runs: every number of every step, and the final weights.
struct Record {
  std::vector<float> losses, norms, val_losses, lrs, params;
};
Record record_of(const gpt2::TrainResult& r, gpt2::TrainableModel& model) {
  Record rec;
  for (const gpt2::StepMetrics& m : r.history) {
    rec.losses.push_back(m.train_loss);
    rec.norms.push_back(m.grad_norm);
    rec.val_losses.push_back(m.val_loss);
    rec.lrs.push_back(static_cast<float>(m.lr));
  }
  rec.params.assign(model.params().begin(), model.params().end());
  return rec;
}
void check_same(const Record& a, const Record& b) {
  using ch11_test::same_bits;
  CHECK(same_bits(a.losses, b.losses));  // NaN (no validation) compares equal bit for bit
  CHECK(same_bits(a.norms, b.norms));
  CHECK(same_bits(a.val_losses, b.val_losses));
  CHECK(same_bits(a.lrs, b.lrs));
  CHECK(same_bits(a.params, b.params));
}

bool same_file(const fs::path& a, const fs::path& b) {
  return gpt2::read_file(a) == gpt2::read_file(b);
}

}  // namespace

TEST_CASE("train() on N ranks x K equals train() in one process x N*K, bit for bit, checkpoints included",
          "[mpi][train]") {
  gpt2::MpiCommunicator& comm = world();
  const int N = comm.size();
  const int V = 300;  // 90,300 parameters: more than one norm chunk, so ZeRO-1 really splits them
  const fs::path data = own_dir("loop_data"), mine = own_dir("loop_one"), ours = shared_dir("loop_ranks");
  write_data(data, V);
  for (bool zero1 : {false, true}) {
    for (int K : {1, 2}) {
      INFO(comm.where() << ", zero1 " << zero1 << ", K " << K);
      gpt2::testing::BigramModel one(V, 5), many(V, 5);
      fs::remove_all(mine);
      const gpt2::TrainResult reference = gpt2::train(one, config_for(data, mine, N * K));
      comm.barrier();
      if (comm.rank() == 0) fs::remove_all(ours);
      comm.barrier();
      gpt2::DataParallelRun run(comm, {zero1, 0});
      gpt2::TrainConfig c = config_for(data, ours, K);
      c.data_parallel = &run;
      const gpt2::TrainResult result = gpt2::train(many, c);
      check_same(record_of(result, many), record_of(reference, one));
      CHECK(result.last_checkpoint.filename() == reference.last_checkpoint.filename());
      if (comm.rank() == 0) {
        // The files one process writes: the same model and optimizer state (ZeRO-1's moments
        // gathered in one process's layout), and the same training state apart from the time.
        for (int step : {3, 6}) {
          const fs::path a = gpt2::checkpoint_dir(ours, step), b = gpt2::checkpoint_dir(mine, step);
          CHECK(same_file(a / "model.safetensors", b / "model.safetensors"));
          CHECK(same_file(a / "optimizer.safetensors", b / "optimizer.safetensors"));
          const gpt2::TrainingState sa =
              gpt2::training_state_from_json(gpt2::read_file(a / "state.json"), "a");
          const gpt2::TrainingState sb =
              gpt2::training_state_from_json(gpt2::read_file(b / "state.json"), "b");
          CHECK(sa.train_loader == sb.train_loader);
          CHECK(sa.grad_accum_steps == N * K);
          CHECK(sb.grad_accum_steps == N * K);
        }
        CHECK(gpt2::read_metrics_csv(ours / "metrics.csv").size() == 6);
      }
    }
  }
  comm.barrier();
  if (comm.rank() == 0) fs::remove_all(ours);
  fs::remove_all(mine);
  fs::remove_all(data);
}

// A loader whose targets leave out the positions of every input that is a multiple of 3: each
// micro-batch has its own number of targets, as fine-tuning's labelled examples have.
class MaskedBatches : public gpt2::BatchSource {
 public:
  MaskedBatches(const fs::path& file, int B, int T)
      : loader_(gpt2::DataLoader::from_file(file, B, T, true, 3)) {}
  void next_batch(int* inputs, int* targets) override {
    loader_.next_batch(inputs, targets);
    for (int i = 0; i < B() * T(); ++i) {
      if (inputs[i] % 3 == 0) targets[i] = -1;
    }
  }
  void reset() override { loader_.reset(); }
  gpt2::DataLoaderState state() const override { return loader_.state(); }
  void set_state(const gpt2::DataLoaderState& state) override { loader_.set_state(state); }
  int B() const override { return loader_.B(); }
  int T() const override { return loader_.T(); }
  int64_t batches_per_epoch() const override { return loader_.batches_per_epoch(); }
  const std::string& name() const override { return loader_.name(); }

 private:
  gpt2::DataLoader loader_;
};

TEST_CASE("A GPT-2 with dropout, micro-batches weighted by their targets: N ranks equal one process",
          "[mpi][train][gpt2]") {
  // Each micro-batch must get the dropout masks of the same micro-batch in one process (forward
  // pass step·M + j) and the same weight (its targets over the global first micro-batch's).
  gpt2::MpiCommunicator& comm = world();
  const int N = comm.size(), K = 2, V = 64;
  const fs::path data = own_dir("gpt2_data"), mine = own_dir("gpt2_one"), ours = shared_dir("gpt2_ranks");
  write_data(data, V);
  const gpt2::GPT2Config config = gpt2::GPT2Config::make(2, 4, 32, 16, V);
  const gpt2::DropoutConfig dropout{0.1f, 0.1f, 0.2f};
  gpt2::CpuBackend cpu;
  auto run_on = [&](const fs::path& out, int k, gpt2::DataParallelHook* hook, gpt2::GPT2& model) {
    model.init_random(7);
    model.set_dropout(dropout);
    gpt2::Gpt2Trainable trainable(model);
    gpt2::TrainConfig c = config_for(data, out, k);
    MaskedBatches train_batches(data / "train.bin", c.batch_size, c.seq_len);
    MaskedBatches val_batches(data / "val.bin", c.batch_size, c.seq_len);
    c.train_batches = &train_batches;
    c.val_batches = &val_batches;
    c.data_parallel = hook;
    const gpt2::TrainResult r = gpt2::train(trainable, c);
    return record_of(r, trainable);
  };
  gpt2::GPT2 one(config, cpu), many(config, cpu), plain(config, cpu);
  fs::remove_all(mine);
  const Record reference = run_on(mine, N * K, nullptr, one);
  for (bool zero1 : {false, true}) {
    INFO(comm.where() << ", zero1 " << zero1);
    comm.barrier();
    if (comm.rank() == 0) fs::remove_all(ours);
    comm.barrier();
    // Buckets of 1000 floats, and wte's rows no rank's tokens use sent in parts as short as a row.
    gpt2::DataParallelRun run(comm, {zero1, 1000, static_cast<size_t>(config.n_embd)});
    check_same(run_on(ours, K, &run, many), reference);
  }
  // The test can fail: without dropout the same run gives other losses.
  fs::remove_all(mine);
  plain.init_random(7);
  gpt2::Gpt2Trainable trainable(plain);
  gpt2::TrainConfig c = config_for(data, mine, N * K);
  MaskedBatches batches(data / "train.bin", c.batch_size, c.seq_len);
  c.train_batches = &batches;
  c.val_file.clear();
  CHECK(record_of(gpt2::train(trainable, c), trainable).losses != reference.losses);
  comm.barrier();
  if (comm.rank() == 0) fs::remove_all(ours);
  fs::remove_all(mine);
  fs::remove_all(data);
}

TEST_CASE("train() with buckets reported by backward, on N ranks, equals one process",
          "[mpi][train][overlap]") {
  gpt2::MpiCommunicator& comm = world();
  const int N = comm.size();
  const int V = 64, C = 32, L = 3;
  const fs::path data = own_dir("overlap_data"), mine = own_dir("overlap_one"),
                 ours = shared_dir("overlap_ranks");
  write_data(data, V);
  ch11_test::LayeredModel one(V, C, L, 9);
  const gpt2::TrainResult reference = gpt2::train(one, config_for(data, mine, N));
  for (gpt2::DataParallelOptions options :
       {gpt2::DataParallelOptions{false, 1000}, gpt2::DataParallelOptions{true, 0}}) {
    INFO(comm.where() << ", zero1 " << options.zero1 << ", bucket " << options.bucket_floats);
    comm.barrier();
    if (comm.rank() == 0) fs::remove_all(ours);
    comm.barrier();
    ch11_test::LayeredModel many(V, C, L, 9);
    gpt2::DataParallelRun run(comm, options);
    gpt2::TrainConfig c = config_for(data, ours, 1);
    c.data_parallel = &run;
    const gpt2::TrainResult result = gpt2::train(many, c);
    check_same(record_of(result, many), record_of(reference, one));
    CHECK(run.wait_seconds() > 0.0);  // the steps did wait for the collectives
  }
  comm.barrier();
  if (comm.rank() == 0) fs::remove_all(ours);
  fs::remove_all(mine);
  fs::remove_all(data);
}

TEST_CASE("A stop asked for on one rank stops all; the run resumes exactly, on N ranks or in one process",
          "[mpi][train][resume]") {
  gpt2::MpiCommunicator& comm = world();
  const int N = comm.size(), K = 2, V = 300;
  const fs::path data = own_dir("resume_data"), unbroken = own_dir("resume_one"),
                 ours = shared_dir("resume_ranks"), alone = own_dir("resume_alone");
  write_data(data, V);
  gpt2::TrainConfig long_run = config_for(data, unbroken, N * K);
  long_run.steps = 8;
  gpt2::testing::BigramModel reference_model(V, 3);
  const gpt2::TrainResult reference = gpt2::train(reference_model, long_run);
  const Record whole = record_of(reference, reference_model);

  for (bool zero1 : {false, true}) {
    INFO(comm.where() << ", zero1 " << zero1);
    comm.barrier();
    if (comm.rank() == 0) fs::remove_all(ours);
    comm.barrier();
    // Only the last rank asks to stop, after step 3 (as if Ctrl-C reached that process alone).
    gpt2::testing::BigramModel first(V, 3);
    gpt2::DataParallelRun run(comm, {zero1, 0});
    gpt2::TrainConfig c = config_for(data, ours, K);
    c.steps = 8;
    c.data_parallel = &run;
    const gpt2::StepCallback stop_on_last_rank = [&](const gpt2::StepMetrics& m) {
      if (m.step == 3 && comm.rank() == N - 1) gpt2::request_stop();
    };
    const gpt2::TrainResult part = gpt2::train(first, c, stop_on_last_rank);
    CHECK(part.interrupted);
    CHECK(part.final_step == 3);
    CHECK(part.last_checkpoint == gpt2::checkpoint_dir(ours, 3));
    // A copy of that checkpoint for one process (the resumed run below keeps only its newest two).
    fs::remove_all(alone);
    gpt2::create_directories(alone / "checkpoints");
    fs::copy(gpt2::checkpoint_dir(ours, 3), gpt2::checkpoint_dir(alone, 3), fs::copy_options::recursive);
    comm.barrier();  // every rank has its copy before the run goes on

    // Resumed on N ranks: the rest of the unbroken run.
    gpt2::testing::BigramModel second(V, 3);
    gpt2::DataParallelRun run2(comm, {zero1, 0});
    c.resume = true;
    c.data_parallel = &run2;
    const gpt2::TrainResult rest = gpt2::train(second, c);
    CHECK(rest.start_step == 3);
    Record expected = whole;
    for (auto* v : {&expected.losses, &expected.norms, &expected.val_losses, &expected.lrs})
      v->erase(v->begin(), v->begin() + 3);
    check_same(record_of(rest, second), expected);

    // The N-rank checkpoint of step 3 resumed in one process with N·K micro-batches per step.
    gpt2::testing::BigramModel third(V, 3);
    gpt2::TrainConfig c1 = config_for(data, alone, N * K);
    c1.steps = 8;
    c1.resume = true;
    const gpt2::TrainResult solo = gpt2::train(third, c1);
    check_same(record_of(solo, third), expected);
    // But not with another global batch: the checkpoint says how many micro-batches a step has.
    gpt2::testing::BigramModel fourth(V, 3);
    c1.grad_accum_steps = K;
    CHECK_THROWS_WITH(gpt2::train(fourth, c1), Catch::Contains("grad_accum_steps=" + std::to_string(N * K)));
  }
  comm.barrier();
  if (comm.rank() == 0) fs::remove_all(ours);
  fs::remove_all(unbroken);
  fs::remove_all(alone);
  fs::remove_all(data);
}

TEST_CASE("The time budget follows rank 0's clock; ranks that start from other weights are named",
          "[mpi][train]") {
  gpt2::MpiCommunicator& comm = world();
  const int V = 50;
  const fs::path data = own_dir("clock_data"), ours = shared_dir("clock_ranks");
  write_data(data, V);
  comm.barrier();
  if (comm.rank() == 0) fs::remove_all(ours);
  comm.barrier();
  // Every reading of rank r's clock advances it by r + 1 seconds: only rank 0's may count.
  double t = 0;
  gpt2::testing::BigramModel model(V, 1);
  gpt2::DataParallelRun run(comm, {false, 0});
  gpt2::TrainConfig c = config_for(data, ours, 1);
  c.steps = 100;
  c.time_budget_seconds = 20;
  c.clock = [&] { return t += comm.rank() + 1; };
  c.data_parallel = &run;
  const gpt2::TrainResult r = gpt2::train(model, c);
  CHECK(r.budget_reached);
  const int steps = r.final_step;
  const std::vector<int> all = comm.all_gather_values<int>(std::span<const int>(&steps, 1));
  for (int s : all) CHECK(s == all[0]);
  CHECK(all[0] > 1);  // rank 0's clock (1 s a reading) allowed several steps; the last rank's would not

  gpt2::testing::BigramModel other(V, 1 + comm.rank());  // another seed on every rank but 0
  gpt2::DataParallelRun run2(comm, {false, 0});
  c.data_parallel = &run2;
  c.out_dir = ours / "other";
  CHECK_THROWS_WITH(gpt2::train(other, c), Catch::Contains("rank 1 has another 'initial model' than rank 0"));
  comm.barrier();
  if (comm.rank() == 0) fs::remove_all(ours);
  fs::remove_all(data);
}
