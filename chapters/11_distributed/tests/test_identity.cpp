// The identity data parallelism promises, checked bit for bit under mpirun: N ranks × K
// micro-batches of B train exactly like one process × N·K micro-batches of B, with and without
// ZeRO-1, with and without overlap. The one-process run is computed on every rank with a
// LocalCommunicator, from the same global batches.
#include <cstring>
#include <vector>

#include "chapters/06_training/grad_clip.h"
#include "chapters/06_training/tests/bigram_model.h"
#include "chapters/11_distributed/data_parallel.h"
#include "chapters/11_distributed/tests/layered_model.h"
#include "chapters/11_distributed/tests/mpi_test.h"
#include "chapters/11_distributed/tests/test_util.h"
#include "common/rng.h"
#include "tests/catch.h"

namespace {

using ch11_test::world;

const gpt2::AdamWConfig kAdam{0.9f, 0.95f, 1e-8f, 0.1f};

using ch11_test::same_bits;
using GlobalBatch = ch11_test::Batches;

// Rank r's share: micro-batches j = k·N + r for k = 0 .. K−1, one after another.
GlobalBatch share_of(const GlobalBatch& g, int r, int N, int K, int B, int T) {
  GlobalBatch mine;
  const size_t BT = static_cast<size_t>(B) * T;
  for (int k = 0; k < K; ++k) {
    const size_t j = static_cast<size_t>(k) * N + r;
    mine.inputs.insert(mine.inputs.end(), g.inputs.begin() + j * BT, g.inputs.begin() + (j + 1) * BT);
    mine.targets.insert(mine.targets.end(), g.targets.begin() + j * BT, g.targets.begin() + (j + 1) * BT);
  }
  return mine;
}

struct Run {
  std::vector<float> losses, norms, params;
  size_t early_floats = 0;  // of the last micro-batch: reduces started before backward was over
};

// `steps` optimizer steps of `model` with data parallelism over `comm`, K micro-batches per rank.
// With `blocks` > 0 the vocabulary is cut into that many blocks and micro-batch j's input tokens
// all lie in block j mod blocks: with blocks = N, every rank sees tokens of its own.
template <typename Model>
Run train(Model& model, gpt2::Communicator& comm, const gpt2::DataParallelOptions& options, int K, int B,
          int T, int steps, int global_M, int blocks = 0) {
  gpt2::DataParallel dp(comm, model, kAdam, options);  // hears the layered model's backward
  Run run;
  for (int s = 0; s < steps; ++s) {
    GlobalBatch g = ch11_test::random_batches(global_M, B, T, model.vocab_size(), 1000 + s);
    if (blocks > 0) {
      const int width = model.vocab_size() / blocks, BT = B * T;
      for (size_t i = 0; i < g.inputs.size(); ++i)
        g.inputs[i] = g.inputs[i] % width + static_cast<int>(i / BT) % blocks * width;
    }
    const GlobalBatch mine = share_of(g, comm.rank(), comm.size(), K, B, T);
    // A small clip, so that the norm decides the update.
    const gpt2::StepOutcome out = dp.step(mine.inputs.data(), mine.targets.data(), B, T, K, 3e-3f, 0.1f);
    run.losses.push_back(out.loss);
    run.norms.push_back(out.grad_norm);
  }
  run.params.assign(model.params().begin(), model.params().end());
  run.early_floats = dp.sync().early_floats();
  return run;
}

void check_same(const Run& a, const Run& b) {
  CHECK(same_bits(a.losses, b.losses));
  CHECK(same_bits(a.norms, b.norms));
  CHECK(same_bits(a.params, b.params));
}

// The runs' parameters must also agree across ranks (every rank holds the whole model).
void check_same_on_every_rank(const Run& run) {
  gpt2::MpiCommunicator& comm = world();
  std::vector<float> rank0 = run.params;
  comm.broadcast(rank0.data(), rank0.size(), 0);
  CHECK(same_bits(run.params, rank0));
}

}  // namespace

TEST_CASE("Bigram: N ranks x K micro-batches equal one process x N*K, bit for bit, with and without ZeRO-1",
          "[mpi][identity]") {
  gpt2::MpiCommunicator& comm = world();
  const int N = comm.size();
  // V = 300: 90,300 parameters, more than one norm chunk (65,536), so ZeRO-1 really splits them.
  const int V = 300, B = 2, T = 8, steps = 3;
  for (bool zero1 : {false, true}) {
    for (int K : {1, 2}) {
      INFO(comm.where() << ", zero1 " << zero1 << ", K " << K);
      gpt2::testing::BigramModel one(V, 11), many(V, 11);
      gpt2::LocalCommunicator local;
      const Run reference = train(one, local, {false, 0}, N * K, B, T, steps, N * K);
      const Run ours = train(many, comm, {zero1, 0}, K, B, T, steps, N * K);
      check_same(ours, reference);
      check_same_on_every_rank(ours);
      // And the same bits run after run.
      gpt2::testing::BigramModel again(V, 11);
      check_same(train(again, comm, {zero1, 0}, K, B, T, steps, N * K), ours);
    }
  }
  // Ranks that start from different weights: broadcast_parameters() gives everyone rank 0's.
  gpt2::testing::BigramModel mine(V, 100 + comm.rank()), rank0(V, 100);
  gpt2::DataParallel(comm, mine, kAdam).broadcast_parameters();
  CHECK(same_bits(mine.params(), rank0.params()));

  // ZeRO-1 keeps about 1/N of the moments on each rank.
  gpt2::testing::BigramModel model(V, 11);
  gpt2::DataParallel sharded(comm, model, kAdam, {true, 0});
  const uint64_t per_rank = sharded.optimizer_floats();
  const std::vector<uint64_t> all = comm.all_gather_values<uint64_t>(std::span<const uint64_t>(&per_rank, 1));
  uint64_t total = 0;
  for (uint64_t f : all) total += f;
  CHECK(total == 2 * model.params().size());
}

TEST_CASE("Overlap: buckets reduced during backward change nothing, bit for bit",
          "[mpi][identity][overlap]") {
  gpt2::MpiCommunicator& comm = world();
  const int N = comm.size();
  // 197,888 parameters: wte (256, 128), 8 layers of (128, 128) + 128, head (128, 256) + 256.
  const int V = 256, C = 128, L = 8, B = 2, T = 4, steps = 3;
  gpt2::LocalCommunicator local;
  ch11_test::LayeredModel one(V, C, L, 5);
  const Run reference = train(one, local, {false, 0}, N, B, T, steps, N);
  // Many small buckets (started as the layers finish), and ZeRO-1 buckets of whole norm chunks.
  for (gpt2::DataParallelOptions options :
       {gpt2::DataParallelOptions{false, 0}, gpt2::DataParallelOptions{false, 5000},
        gpt2::DataParallelOptions{true, 0}, gpt2::DataParallelOptions{true, 2 * gpt2::kNormChunk}}) {
    INFO(comm.where() << ", zero1 " << options.zero1 << ", bucket " << options.bucket_floats);
    ch11_test::LayeredModel many(V, C, L, 5);
    const Run ours = train(many, comm, options, 1, B, T, steps, N);
    check_same(ours, reference);
    check_same_on_every_rank(ours);
  }
}

TEST_CASE("Overlap: the embedding rows no rank's tokens use go out after the head, bit for bit",
          "[mpi][identity][overlap]") {
  // Each rank's tokens come from a block of the vocabulary of its own, so the rows one rank's
  // embedding backward adds to are final on every other rank: a rank that sent the rows of its
  // own tokens late but another's early would add a gradient without the embedding's part.
  gpt2::MpiCommunicator& comm = world();
  const int N = comm.size();
  const int V = 256, C = 128, L = 8, B = 2, T = 4, steps = 3;
  const size_t n = ch11_test::LayeredModel(V, C, L, 5).params().size();
  for (int K : {1, 2}) {
    gpt2::LocalCommunicator local;
    ch11_test::LayeredModel one(V, C, L, 5);
    const Run reference = train(one, local, {false, 0}, N * K, B, T, steps, N * K, N);
    // Parts as short as a row; buckets of 5000 floats, of half the buffer or of one norm chunk;
    // the default shortest part (128 rows here: only the rows beyond the last block's tokens).
    for (gpt2::DataParallelOptions options :
         {gpt2::DataParallelOptions{false, 5000, C}, gpt2::DataParallelOptions{false, n / 2, C},
          gpt2::DataParallelOptions{true, gpt2::kNormChunk, C}, gpt2::DataParallelOptions{false, 5000}}) {
      INFO(comm.where() << ", K " << K << ", zero1 " << options.zero1 << ", bucket " << options.bucket_floats
                        << ", part " << options.min_part_floats);
      ch11_test::LayeredModel many(V, C, L, 5);
      const Run ours = train(many, comm, options, K, B, T, steps, N * K, N);
      check_same(ours, reference);
      check_same_on_every_rank(ours);
      // wte is V·C floats at the start of the buffer; the tokens of all ranks use at most N·B·T
      // of its rows: with parts of a row, every other row of the table went out early.
      if (options.min_part_floats == static_cast<size_t>(C)) {
        CHECK(ours.early_floats >= static_cast<size_t>(V - N * B * T) * C);
      }
    }
  }
}
