// Chapter 11 in one process: the LocalCommunicator, the accumulation rule of GradientSync, the
// data-parallel step against chapter 06's train_step, the watchdog and the fingerprints.
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>

#include "chapters/06_training/grad_clip.h"
#include "chapters/06_training/tests/bigram_model.h"
#include "chapters/06_training/trainer.h"
#include "chapters/11_distributed/data_parallel.h"
#include "chapters/11_distributed/fingerprint.h"
#include "chapters/11_distributed/tests/test_util.h"
#include "chapters/11_distributed/watchdog.h"
#include "common/error.h"
#include "common/file_io.h"
#include "common/rng.h"
#include "tests/catch.h"

namespace {

using ch11_test::random_batches;
using ch11_test::same_bits;

const gpt2::AdamWConfig kAdam{0.9f, 0.95f, 1e-8f, 0.1f};

}  // namespace

TEST_CASE("LocalCommunicator: a reduce copies or adds, an all-gather copies", "[local]") {
  gpt2::LocalCommunicator local;
  const std::vector<float> buf = {1, 2, 3, 4};
  const gpt2::Partition all = gpt2::Partition::split({0, 4}, 1);
  std::vector<float> acc(4, 10.0f);
  local.reduce(buf.data(), all, acc.data(), /*accumulate=*/false);
  CHECK(acc == buf);
  local.reduce(buf.data(), all, acc.data(), /*accumulate=*/true);
  CHECK(acc == std::vector<float>{2, 4, 6, 8});
  std::vector<float> out(4, 0.0f);
  local.all_gather(out.data(), all, acc.data());
  CHECK(out == acc);
  CHECK_THROWS_WITH(local.reduce(buf.data(), gpt2::Partition::split({0, 4}, 2), acc.data(), false),
                    Catch::Contains("the partition has 2 pieces for 1 ranks"));
}

TEST_CASE("GradientSync adds the micro-batch gradients in order into an accumulator", "[local]") {
  gpt2::LocalCommunicator local;
  const size_t n = 1000;
  for (size_t bucket : {size_t{0}, size_t{128}}) {
    gpt2::GradientSync sync(local, n, {false, bucket});
    std::vector<float> memory(n);  // the sum in memory of the caller's (the backend's, on a GPU)
    if (bucket > 0) sync.use_accumulator(memory);
    std::vector<std::vector<float>> g;
    gpt2::Rng rng(5);
    for (int k = 0; k < 3; ++k) {
      g.emplace_back(n);
      for (float& x : g.back()) x = rng.normal();
    }
    sync.begin_step(3);
    for (int k = 0; k < 3; ++k) {
      // Report readiness from the end down, as a backward pass would.
      for (size_t first = n; first > 0; first -= 250) sync.grads_ready(g[k], first - 250);
      sync.end_micro_batch(g[k]);
    }
    std::vector<float> expected(n);
    for (size_t i = 0; i < n; ++i) expected[i] = (g[0][i] + g[1][i]) + g[2][i];
    std::vector<float> out(n);
    sync.gather(out);
    CHECK(same_bits(out, expected));
    if (bucket > 0) CHECK(sync.shard().data() == memory.data());
  }
  gpt2::GradientSync sync(local, n, {});
  std::vector<float> too_small(n - 1);
  CHECK_THROWS_WITH(sync.use_accumulator(too_small), Catch::Contains("owns 1000 floats"));
}

TEST_CASE("One rank, one micro-batch: the data-parallel step is chapter 06's train_step, bit for bit",
          "[local]") {
  const int V = 40, B = 3, T = 5;
  for (bool zero1 : {false, true}) {
    INFO("zero1 " << zero1);
    gpt2::testing::BigramModel ours(V, 7), theirs(V, 7);
    gpt2::LocalCommunicator local;
    gpt2::DataParallel dp(local, ours, kAdam, {zero1, 0});
    gpt2::AdamW opt(theirs.backend(), theirs.params().size(), gpt2::decay_ranges(theirs.param_infos()),
                    kAdam);
    for (int step = 0; step < 4; ++step) {
      const ch11_test::Batches b = random_batches(1, B, T, V, 100 + step);
      // A small clip so that clipping happens.
      const gpt2::StepOutcome a = dp.step(b.inputs.data(), b.targets.data(), B, T, 1, 1e-2f, 0.05f);
      const gpt2::StepOutcome e =
          gpt2::train_step(theirs, opt, b.inputs.data(), b.targets.data(), B, T, 1, 1e-2f, 0.05f);
      CHECK(a.loss == e.loss);
      CHECK(a.grad_norm == e.grad_norm);
      REQUIRE(same_bits(ours.params(), theirs.params()));
    }
    CHECK(dp.optimizer_floats() == 2 * ours.params().size());
  }
}

TEST_CASE("One rank, K micro-batches: the step follows the accumulation rule", "[local]") {
  // The rule written out: each micro-batch's gradient on its own, added in order, then the mean,
  // chapter 06's clip and AdamW.
  const int V = 30, B = 2, T = 4, K = 3;
  gpt2::testing::BigramModel ours(V, 3), ref(V, 3);
  gpt2::LocalCommunicator local;
  gpt2::DataParallel dp(local, ours, kAdam, {false, 0});
  gpt2::AdamW opt(ref.backend(), ref.params().size(), gpt2::decay_ranges(ref.param_infos()), kAdam);
  for (int step = 0; step < 3; ++step) {
    const ch11_test::Batches b = random_batches(K, B, T, V, 50 + step);
    const gpt2::StepOutcome a = dp.step(b.inputs.data(), b.targets.data(), B, T, K, 1e-2f, 1.0f);

    std::vector<float> acc(ref.grads().size());
    float loss_sum = 0.0f;
    for (int k = 0; k < K; ++k) {
      ref.zero_grad();
      loss_sum += ref.forward(b.inputs.data() + k * B * T, b.targets.data() + k * B * T, B, T);
      ref.backward();
      for (size_t i = 0; i < acc.size(); ++i) acc[i] = k == 0 ? ref.grads()[i] : acc[i] + ref.grads()[i];
    }
    gpt2::scale_grads(acc.data(), acc.size(), 1.0f / K);
    const float norm = gpt2::clip_grad_norm(acc.data(), acc.size(), 1.0f);
    opt.step(ref.params(), acc, 1e-2f);
    CHECK(a.loss == loss_sum / K);
    CHECK(a.grad_norm == norm);
    REQUIRE(same_bits(ours.params(), ref.params()));
  }
}

TEST_CASE("The watchdog reports a wait longer than its timeout, once, and not a short one", "[watchdog]") {
  std::atomic<int> fired{0};
  std::string message;
  {
    gpt2::Watchdog dog(0.2, "rank 3 of 4 (test)", [&](const std::string& m) {
      message = m;
      ++fired;
    });
    {
      gpt2::Watchdog::Guard guard = dog.watch("a test wait");
      // Wait until it fires (it must; the test's own timeout bounds this loop).
      while (fired == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      std::this_thread::sleep_for(std::chrono::milliseconds(500));  // still waiting: no second report
    }
  }
  CHECK(fired == 1);
  CHECK_THAT(message, Catch::Contains("rank 3 of 4 (test)") && Catch::Contains("in a test wait") &&
                          Catch::Contains("stuck"));

  std::atomic<int> late{0};
  {
    gpt2::Watchdog dog(60, "rank 0", [&](const std::string&) { ++late; });
    gpt2::Watchdog::Guard guard = dog.watch("a short wait");
  }
  CHECK(late == 0);
}

TEST_CASE("Fingerprints: FNV-1a, files, and agreement of one rank with itself", "[fingerprint]") {
  // Published FNV-1a 64 test vectors.
  CHECK(gpt2::fnv1a("") == 0xcbf29ce484222325ull);
  CHECK(gpt2::fnv1a("a") == 0xaf63dc4c8601ec8cull);
  CHECK(gpt2::fnv1a("foobar") == 0x85944171f73967e8ull);

  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "gpt2_ch11_fingerprint";
  gpt2::create_directories(dir);
  std::string content(3 << 20, 'x');  // more than one read block
  content[12345] = 'y';
  gpt2::write_file_atomic(dir / "data.bin", content);
  CHECK(gpt2::hash_file(dir / "data.bin") == gpt2::fnv1a(content));
  const gpt2::Fingerprint f = gpt2::file_fingerprint("train data", dir / "data.bin");
  CHECK_THAT(f.detail, Catch::Contains("data.bin") && Catch::Contains("3145728 bytes"));
  CHECK_THROWS_WITH(gpt2::file_fingerprint("train data", dir / "missing.bin"),
                    Catch::Contains("missing.bin"));
  CHECK(gpt2::hash_this_program() != 0);

  gpt2::LocalCommunicator local;
  CHECK_NOTHROW(gpt2::check_ranks_agree(local, {f, {"options", 42, "lr=0.1"}}));
  std::filesystem::remove_all(dir);
}
