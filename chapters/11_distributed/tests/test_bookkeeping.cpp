// Chapter 11 without MPI: the partition, the ring all-reduce on simulated ranks, the buckets and
// ZeRO-1's shards, each against a direct computation.
#include <cfloat>
#include <cmath>
#include <cstring>
#include <vector>

#include "chapters/06_training/adamw.h"
#include "chapters/06_training/grad_clip.h"
#include "chapters/11_distributed/buckets.h"
#include "chapters/11_distributed/communicator.h"
#include "chapters/11_distributed/partition.h"
#include "chapters/11_distributed/ring_allreduce.h"
#include "chapters/11_distributed/zero1.h"
#include "common/error.h"
#include "common/rng.h"
#include "tests/catch.h"

namespace {

using gpt2::Partition;
using gpt2::Range;

std::vector<float> random_vector(size_t n, uint64_t seed, float scale = 1.0f) {
  gpt2::Rng rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = rng.normal(0.0f, scale);
  return v;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// N buffers of n floats; integer values keep every sum exact in any order.
std::vector<std::vector<float>> rank_buffers(int N, size_t n, bool integers, uint64_t seed) {
  std::vector<std::vector<float>> buffers;
  for (int r = 0; r < N; ++r) {
    std::vector<float> v = random_vector(n, seed + r);
    if (integers) {
      for (float& x : v) x = std::round(x * 100.0f);
    }
    buffers.push_back(v);
  }
  return buffers;
}

// The reference: one process adding the buffers in rank order, in double.
std::vector<double> direct_sum(const std::vector<std::vector<float>>& buffers) {
  std::vector<double> sum(buffers[0].size(), 0.0);
  for (const auto& b : buffers) {
    for (size_t i = 0; i < b.size(); ++i) sum[i] += b[i];
  }
  return sum;
}

}  // namespace

TEST_CASE("Partition::split cuts a range into aligned pieces with the padding at the end", "[partition]") {
  // 10 floats over 3 ranks: S = ceil(10 / 3) = 4 -> [0,4) [4,8) [8,10), padding 2.
  Partition p = Partition::split({0, 10}, 3);
  CHECK(p.ranks() == 3);
  CHECK(p.piece_capacity() == 4);
  CHECK(p.piece(0) == Range{0, 4});
  CHECK(p.piece(1) == Range{4, 8});
  CHECK(p.piece(2) == Range{8, 10});
  CHECK(p.largest_piece() == 4);

  // Aligned to 4 with 2 ranks over [8, 19): S = 4 * ceil(11 / 8) = 8 -> [8,16) [16,19).
  p = Partition::split({8, 19}, 2, 4);
  CHECK(p.piece_capacity() == 8);
  CHECK(p.piece(0) == Range{8, 16});
  CHECK(p.piece(1) == Range{16, 19});

  // A buffer smaller than the alignment: rank 0 gets it all, the others nothing.
  p = Partition::split({0, 5}, 4, 8);
  CHECK(p.piece(0) == Range{0, 5});
  for (int r = 1; r < 4; ++r) CHECK(p.piece(r).empty());

  // The pieces always tile the range, for many shapes.
  for (size_t n : {0, 1, 7, 64, 1000, 65537}) {
    for (int N : {1, 2, 3, 8}) {
      for (size_t align : {1, 4, 1024}) {
        p = Partition::split({3, 3 + n}, N, align);
        size_t at = 3;
        for (int r = 0; r < N; ++r) {
          CHECK(p.piece(r).begin == at);
          CHECK(p.piece(r).size() <= p.piece_capacity());
          if (!p.piece(r).empty()) CHECK((p.piece(r).begin - 3) % align == 0);
          at = p.piece(r).end;
        }
        CHECK(at == 3 + n);
        CHECK(p.piece_capacity() * N >= n);
      }
    }
  }
  CHECK_THROWS_AS(Partition::split({0, 10}, 0), gpt2::Error);
}

TEST_CASE("The ring all-reduce on simulated ranks gives the direct sum on every rank", "[ring]") {
  for (int N : {1, 2, 3, 4, 7}) {
    for (size_t n : {1, 5, 64, 1001}) {
      INFO("N = " << N << ", n = " << n);
      // Integer values: the sum is exact in any order, so the ring must match it exactly.
      auto buffers = rank_buffers(N, n, /*integers=*/true, 100 + N);
      const std::vector<double> expected = direct_sum(buffers);
      gpt2::ring_all_reduce(buffers);
      for (int r = 0; r < N; ++r) {
        for (size_t i = 0; i < n; ++i) REQUIRE(buffers[r][i] == static_cast<float>(expected[i]));
      }
      // Random floats: a different order of additions, so within the rounding of N - 1 additions
      // (|error| <= (N - 1) eps sum |x|), and the same bits on every rank (the all-gather copies).
      buffers = rank_buffers(N, n, /*integers=*/false, 200 + N);
      std::vector<double> abs_sum(n, 0.0);
      for (const auto& b : buffers) {
        for (size_t i = 0; i < n; ++i) abs_sum[i] += std::fabs(b[i]);
      }
      const std::vector<double> sum = direct_sum(buffers);
      gpt2::ring_all_reduce(buffers);
      for (size_t i = 0; i < n; ++i) {
        REQUIRE(std::fabs(buffers[0][i] - sum[i]) <= (N - 1) * FLT_EPSILON * abs_sum[i] + 1e-30);
      }
      for (int r = 1; r < N; ++r) REQUIRE(same_bits(buffers[r], buffers[0]));
    }
  }
}

TEST_CASE("The ring sends 2(N-1)/N of the buffer per rank; the gather to rank 0 sends N-1 buffers",
          "[ring]") {
  const size_t n = 840;  // divisible by 1 .. 8
  for (int N : {2, 3, 4, 8}) {
    auto buffers = rank_buffers(N, n, true, 7);
    const gpt2::AllReduceTraffic ring = gpt2::ring_all_reduce(buffers);
    CHECK(ring.steps == 2 * (N - 1));
    for (int r = 0; r < N; ++r) {
      CHECK(ring.floats_sent[r] == 2 * (N - 1) * n / N);
      CHECK(ring.floats_received[r] == 2 * (N - 1) * n / N);
    }
    buffers = rank_buffers(N, n, true, 7);
    const std::vector<double> expected = direct_sum(buffers);
    const gpt2::AllReduceTraffic naive = gpt2::gather_all_reduce(buffers);
    CHECK(naive.floats_received[0] == (N - 1) * n);
    CHECK(naive.floats_sent[0] == (N - 1) * n);
    for (int r = 0; r < N; ++r) {
      for (size_t i = 0; i < n; ++i) REQUIRE(buffers[r][i] == static_cast<float>(expected[i]));
    }
  }
}

TEST_CASE("Buckets are listed from the end of the buffer and complete as backward moves down", "[buckets]") {
  // 100 floats, 2 ranks, buckets of 30 rounded to a multiple of 2 * 4 = 8: 32.
  // Cut at 0, 32, 64, 96: buckets (from the end) [96,100) [64,96) [32,64) [0,32).
  gpt2::BucketLayout layout(100, 2, 30, 4);
  REQUIRE(layout.bucket_floats() == 32);
  REQUIRE(layout.num_buckets() == 4);
  CHECK(layout.bucket(0).range() == Range{96, 100});
  CHECK(layout.bucket(1).range() == Range{64, 96});
  CHECK(layout.bucket(3).range() == Range{0, 32});
  CHECK(layout.bucket(1).piece(0) == Range{64, 80});
  CHECK(layout.bucket(1).piece(1) == Range{80, 96});
  CHECK(layout.bucket(0).piece(0) == Range{96, 100});  // a short last bucket: rank 0 has it all
  CHECK(layout.bucket(0).piece(1).empty());

  CHECK(layout.complete_buckets(100) == 0);  // nothing final yet
  CHECK(layout.complete_buckets(97) == 0);
  CHECK(layout.complete_buckets(96) == 1);
  CHECK(layout.complete_buckets(70) == 1);
  CHECK(layout.complete_buckets(64) == 2);
  CHECK(layout.complete_buckets(0) == 4);

  // Every float is owned by exactly one rank, through exactly one bucket.
  std::vector<int> owners(100, 0);
  for (int r = 0; r < 2; ++r) {
    for (const Range& p : layout.owned(r)) {
      for (size_t i = p.begin; i < p.end; ++i) ++owners[i];
    }
  }
  for (int o : owners) REQUIRE(o == 1);
  CHECK(layout.owned_floats(0) + layout.owned_floats(1) == 100);

  // Bucket size 0: one bucket, the classic contiguous shards.
  gpt2::BucketLayout one(100, 3);
  REQUIRE(one.num_buckets() == 1);
  CHECK(one.owned(1) == std::vector<Range>{{34, 68}});
}

TEST_CASE("ZeRO-1 shards round-trip and their AdamW updates equal one full AdamW, bit for bit", "[zero1]") {
  // A buffer with tensors that decay and tensors that do not, cut so that pieces cross them.
  const size_t n = 5000;
  std::vector<gpt2::ParamInfo> infos = {
      {"w1", 0, {40, 50}}, {"b1", 2000, {1000}}, {"w2", 3000, {20, 90}}, {"b2", 4800, {200}}};
  const auto decay = gpt2::decay_ranges(infos);
  const gpt2::AdamWConfig config{0.9f, 0.95f, 1e-8f, 0.1f};
  std::vector<float> params = random_vector(n, 1, 0.5f), reference = params;

  gpt2::CpuBackend cpu;  // host vectors: the plain AdamW loop
  gpt2::AdamW full(cpu, n, decay, config);
  for (int N : {1, 2, 3}) {
    for (size_t bucket : {size_t{0}, size_t{700}}) {
      INFO("N = " << N << ", bucket " << bucket);
      gpt2::BucketLayout layout(n, N, bucket, 8);
      std::vector<float> sharded_params = params;
      std::vector<gpt2::ShardedAdamW> shards;
      for (int r = 0; r < N; ++r) shards.emplace_back(cpu, layout.owned(r), decay, config);
      std::vector<float> full_params = params;
      gpt2::AdamW full_opt(cpu, n, decay, config);
      for (int step = 0; step < 3; ++step) {
        const std::vector<float> grads = random_vector(n, 10 + step, 0.1f);
        full_opt.step(full_params, grads, 1e-2f);
        for (int r = 0; r < N; ++r) {
          std::vector<float> shard(layout.owned_floats(r));
          gpt2::shard_of(layout, r, grads, shard);
          // The round trip: the shard put back into a zero buffer gives exactly its pieces.
          std::vector<float> back(n, 0.0f);
          gpt2::unshard(layout, r, shard, back);
          for (const Range& p : layout.owned(r)) {
            REQUIRE(std::memcmp(back.data() + p.begin, grads.data() + p.begin, p.size() * sizeof(float)) ==
                    0);
          }
          shards[r].step(sharded_params, shard, 1e-2f);
        }
        REQUIRE(same_bits(sharded_params, full_params));
      }
      size_t moments = 0;
      for (const auto& s : shards) moments += s.size();
      CHECK(moments == n);  // together the shards hold one set of moments
    }
  }
}

TEST_CASE("The norm from one rank's shard is chapter 06's grad_norm, bit for bit", "[zero1]") {
  // Four chunks of kNormChunk, the last one partial; one rank owns them all. (Two ranks: test_11_mpi.)
  const size_t n = 3 * gpt2::kNormChunk + 1234;
  gpt2::BucketLayout layout(n, 1, 0, gpt2::kNormChunk);
  const std::vector<float> g = random_vector(n, 3);
  gpt2::LocalCommunicator local;
  std::vector<float> shard(layout.owned_floats(0));
  gpt2::shard_of(layout, 0, g, shard);
  const double sharded = gpt2::sharded_grad_norm(local, layout, shard);
  const double whole = gpt2::grad_norm(g.data(), g.size());
  CHECK(std::memcmp(&sharded, &whole, sizeof(double)) == 0);
}
