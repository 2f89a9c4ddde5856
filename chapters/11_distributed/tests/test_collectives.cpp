// The MPI communicator under mpirun: every collective against what one process computes from
// all ranks' buffers (each rank can rebuild every other rank's buffer from its seed).
#include <chrono>
#include <cmath>
#include <cstring>
#include <thread>
#include <vector>

#include "chapters/06_training/grad_clip.h"
#include "chapters/11_distributed/buckets.h"
#include "chapters/11_distributed/fingerprint.h"
#include "chapters/11_distributed/tests/mpi_test.h"
#include "chapters/11_distributed/tests/test_util.h"
#include "chapters/11_distributed/zero1.h"
#include "common/error.h"
#include "common/rng.h"
#include "tests/catch.h"

namespace {

using ch11_test::buffer_of;
using ch11_test::rank_order_sum;
using ch11_test::same_bits;
using ch11_test::world;
using gpt2::Partition;
using gpt2::Range;

}  // namespace

TEST_CASE("all_reduce_sum equals one process adding the ranks' buffers in rank order, bit for bit", "[mpi]") {
  gpt2::MpiCommunicator& comm = world();
  const int N = comm.size();
  for (size_t n : {size_t{1}, size_t{3}, size_t{1000}, size_t{100003}}) {
    INFO(comm.where() << ", n = " << n);
    const std::vector<float> expected = rank_order_sum(N, n, n);
    std::vector<float> buf = buffer_of(comm.rank(), n, n);
    comm.all_reduce_sum(buf.data(), n);
    REQUIRE(same_bits(buf, expected));
    // Run after run: the same bits again.
    std::vector<float> again = buffer_of(comm.rank(), n, n);
    comm.all_reduce_sum(again.data(), n);
    REQUIRE(same_bits(again, buf));
  }
}

TEST_CASE("A reduce with accumulate continues the rank-order sum from the accumulator", "[mpi]") {
  gpt2::MpiCommunicator& comm = world();
  const int N = comm.size(), me = comm.rank();
  const size_t n = 4099;
  const Partition pieces = Partition::split({0, n}, N);
  const Range mine = pieces.piece(me);
  // Two rounds, as for two micro-batches: acc = b_0 + ... + b_{N-1}, then acc += c_0 + ... .
  std::vector<float> acc(mine.size());
  const std::vector<float> b = buffer_of(me, n, 1), c = buffer_of(me, n, 2);
  comm.reduce(b.data(), pieces, acc.data(), /*accumulate=*/false);
  comm.reduce(c.data(), pieces, acc.data(), /*accumulate=*/true);

  std::vector<float> expected = buffer_of(0, n, 1);
  for (int q = 1; q < N; ++q) {
    const std::vector<float> bq = buffer_of(q, n, 1);
    for (size_t i = 0; i < n; ++i) expected[i] += bq[i];
  }
  for (int q = 0; q < N; ++q) {
    const std::vector<float> cq = buffer_of(q, n, 2);
    for (size_t i = 0; i < n; ++i) expected[i] += cq[i];
  }
  REQUIRE(same_bits(acc, std::span<const float>(expected).subspan(mine.begin, mine.size())));
}

TEST_CASE("Buckets reduced non-blocking, in any bucket size, give the same bits as the whole buffer",
          "[mpi]") {
  gpt2::MpiCommunicator& comm = world();
  const int me = comm.rank();
  const size_t n = 50000;
  const std::vector<float> expected = rank_order_sum(comm.size(), n, 9);
  const std::vector<float> mine = buffer_of(me, n, 9);
  for (size_t bucket : {size_t{0}, size_t{1000}, size_t{7777}}) {
    INFO("bucket " << bucket);
    gpt2::BucketLayout layout(n, comm.size(), bucket);
    std::vector<float> acc(layout.owned_floats(me));
    std::vector<std::unique_ptr<gpt2::PendingCollective>> pending;
    size_t at = 0;
    for (size_t b = 0; b < layout.num_buckets(); ++b) {
      pending.push_back(comm.start_reduce(mine.data(), layout.bucket(b), acc.data() + at, false));
      at += layout.bucket(b).piece(me).size();
    }
    // Poll as overlap does, then wait.
    for (int round = 0; round < 100; ++round) {
      for (auto& p : pending) p->test();
    }
    for (auto& p : pending) p->wait();
    std::vector<float> shard(layout.owned_floats(me));
    gpt2::shard_of(layout, me, expected, shard);
    REQUIRE(same_bits(acc, shard));

    // And the all-gather of the shards rebuilds the whole sum on every rank.
    std::vector<float> whole(n, -1.0f);
    at = 0;
    std::vector<std::unique_ptr<gpt2::PendingCollective>> gathers;
    for (size_t b = 0; b < layout.num_buckets(); ++b) {
      gathers.push_back(comm.start_all_gather(whole.data(), layout.bucket(b), acc.data() + at));
      at += layout.bucket(b).piece(me).size();
    }
    for (auto& g : gathers) g->wait();
    REQUIRE(same_bits(whole, expected));
  }
}

TEST_CASE("The progress thread moves a collective on while this thread makes no MPI call", "[mpi][overlap]") {
  gpt2::MpiCommunicator& comm = world();
  if (!comm.has_progress_thread()) {
    WARN("skipped: this MPI does not offer MPI_THREAD_MULTIPLE, so there is no progress thread");
    return;
  }
  // 4M floats per rank (16 MB): many 32 KB fragments through shared memory, each of which needs
  // an MPI call on both sides to move on.
  const int N = comm.size(), me = comm.rank();
  const size_t n = size_t{4} << 20;
  const Partition pieces = Partition::split({0, n * N}, N);
  std::vector<float> expected;
  for (int q = 0; q < N; ++q) {
    const std::vector<float> b = buffer_of(q, n, 5);
    expected.insert(expected.end(), b.begin(), b.end());
  }
  std::vector<float> buf(n * N, std::nanf("")), mine = buffer_of(me, n, 5);
  auto pending = comm.start_all_gather(buf.data(), pieces, mine.data());
  // No MPI call from here until every other rank's piece has landed, its last float included
  // (the deadline only turns a failure into a message instead of a hang).
  auto last_arrived = [&] {
    for (int q = 0; q < N; ++q) {
      const size_t last = pieces.piece(q).end - 1;
      const float seen = *static_cast<volatile const float*>(buf.data() + last);  // read it again each time
      if (std::memcmp(&seen, &expected[last], sizeof(float)) != 0) return false;
    }
    return true;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  bool arrived = false;
  while (!(arrived = last_arrived()) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  REQUIRE(arrived);
  pending->wait();
  REQUIRE(same_bits(buf, expected));
}

TEST_CASE("Broadcast, barrier and the all-gather of host values", "[mpi]") {
  gpt2::MpiCommunicator& comm = world();
  const int N = comm.size(), me = comm.rank();
  std::vector<float> buf = buffer_of(me, 777, 4);
  comm.broadcast(buf.data(), buf.size(), N - 1);
  CHECK(same_bits(buf, buffer_of(N - 1, 777, 4)));
  comm.barrier();
  const double mine[2] = {static_cast<double>(me), 10.0 + me};
  const std::vector<double> all = comm.all_gather_values<double>(mine);
  REQUIRE(all.size() == 2 * static_cast<size_t>(N));
  for (int r = 0; r < N; ++r) {
    CHECK(all[2 * r] == r);
    CHECK(all[2 * r + 1] == 10.0 + r);
  }
  CHECK_THROWS_WITH(comm.broadcast(buf.data(), 1, N), Catch::Contains("root"));
}

TEST_CASE("The norm from the shards is chapter 06's grad_norm of the whole, bit for bit", "[mpi][zero1]") {
  gpt2::MpiCommunicator& comm = world();
  const int me = comm.rank();
  const size_t n = 5 * gpt2::kNormChunk + 4321;
  const std::vector<float> g = buffer_of(0, n, 11);  // the summed gradient, the same on every rank
  const double expected = gpt2::grad_norm(g.data(), n);
  for (size_t bucket : {size_t{0}, 2 * gpt2::kNormChunk}) {
    gpt2::BucketLayout layout(n, comm.size(), bucket, gpt2::kNormChunk);
    std::vector<float> shard(layout.owned_floats(me));
    gpt2::shard_of(layout, me, g, shard);
    const double norm = gpt2::sharded_grad_norm(comm, layout, shard);
    CHECK(std::memcmp(&norm, &expected, sizeof norm) == 0);
  }
  // Pieces that split a chunk cannot give the same bits: refused with a clear message.
  gpt2::BucketLayout unaligned(n, comm.size(), 0, 1);
  std::vector<float> shard(unaligned.owned_floats(me));
  gpt2::shard_of(unaligned, me, g, shard);
  CHECK_THROWS_WITH(gpt2::sharded_grad_norm(comm, unaligned, shard), Catch::Contains("not aligned"));
}

TEST_CASE("A rank with other data or options is named at start", "[mpi][fingerprint]") {
  gpt2::MpiCommunicator& comm = world();
  const int me = comm.rank();
  const std::vector<gpt2::Fingerprint> same = {{"binary", gpt2::hash_this_program(), "test_11_mpi"},
                                               {"options", gpt2::fnv1a("lr=0.001"), "lr=0.001"}};
  CHECK_NOTHROW(gpt2::check_ranks_agree(comm, same));

  // The last rank was given another training file.
  std::vector<gpt2::Fingerprint> items = same;
  const bool odd_one = me == comm.size() - 1;
  items.push_back({"train data", odd_one ? 2u : 1u, odd_one ? "other.bin" : "train.bin"});
  const std::string expected =
      "rank " + std::to_string(comm.size() - 1) + " has another 'train data' than rank 0";
  CHECK_THROWS_WITH(gpt2::check_ranks_agree(comm, items), Catch::Contains(expected));

  // Another binary that checks one thing more.
  std::vector<gpt2::Fingerprint> longer = same;
  if (odd_one) longer.push_back({"val data", 3, "val.bin"});
  CHECK_THROWS_WITH(gpt2::check_ranks_agree(comm, longer), Catch::Contains("checks 3 things"));
}
