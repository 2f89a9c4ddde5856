// Exercises 11: each task against an independent reference: the sum computed directly, in rank
// order, and schedules worked out by hand.
#include <cfloat>
#include <cmath>
#include <cstring>
#include <vector>

#include "common/rng.h"
#include "exercise.h"
#include "tests/catch.h"

namespace {

// N buffers of n floats; with `integers` every sum is exact whatever the order.
std::vector<std::vector<float>> rank_buffers(int N, size_t n, bool integers, uint64_t seed) {
  gpt2::Rng rng(seed);
  std::vector<std::vector<float>> ranks(N, std::vector<float>(n));
  for (auto& b : ranks) {
    for (float& x : b) {
      x = rng.normal() * std::exp2(static_cast<float>(rng.below(16)) - 8.0f);
      if (integers) x = std::round(x * 64.0f);
    }
  }
  return ranks;
}

// One process adding the buffers in rank order.
std::vector<float> rank_order_sum(const std::vector<std::vector<float>>& ranks) {
  std::vector<float> sum = ranks[0];
  for (size_t q = 1; q < ranks.size(); ++q) {
    for (size_t i = 0; i < sum.size(); ++i) sum[i] += ranks[q][i];
  }
  return sum;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("11.1 ring_all_reduce leaves the sum on every rank", "[exercise]") {
  for (int N : {1, 2, 3, 5}) {
    for (size_t n : {1, 4, 30, 1001}) {
      INFO("N = " << N << ", n = " << n);
      auto ranks = rank_buffers(N, n, /*integers=*/true, 10 + N);
      const std::vector<float> expected = rank_order_sum(ranks);
      exercise::ring_all_reduce(ranks);
      for (int r = 0; r < N; ++r) REQUIRE(ranks[r] == expected);

      // Any floats: within the rounding of N - 1 additions, and the same bits everywhere.
      ranks = rank_buffers(N, n, /*integers=*/false, 20 + N);
      std::vector<double> exact(n, 0.0), abs_sum(n, 0.0);
      for (const auto& b : ranks) {
        for (size_t i = 0; i < n; ++i) exact[i] += b[i], abs_sum[i] += std::fabs(b[i]);
      }
      exercise::ring_all_reduce(ranks);
      for (size_t i = 0; i < n; ++i)
        REQUIRE(std::fabs(ranks[0][i] - exact[i]) <= (N - 1) * FLT_EPSILON * abs_sum[i]);
      for (int r = 1; r < N; ++r) REQUIRE(same_bits(ranks[r], ranks[0]));
    }
  }
}

TEST_CASE("11.1 every rank sends 2(N-1)/N of the buffer", "[exercise]") {
  for (int N : {2, 3, 4, 6}) {
    const size_t n = 120;  // divisible by every N here
    auto ranks = rank_buffers(N, n, true, 3);
    const std::vector<size_t> sent = exercise::ring_all_reduce(ranks);
    REQUIRE(sent.size() == static_cast<size_t>(N));
    for (size_t s : sent) CHECK(s == 2 * (N - 1) * n / N);
  }
}

TEST_CASE("11.2 shard_bounds: aligned shards with the padding at the end", "[exercise]") {
  CHECK(exercise::shard_bounds(10, 3, 1) == std::vector<size_t>{0, 4, 8, 10});
  CHECK(exercise::shard_bounds(10, 2, 4) == std::vector<size_t>{0, 8, 10});
  CHECK(exercise::shard_bounds(5, 4, 8) == std::vector<size_t>{0, 5, 5, 5, 5});
  CHECK(exercise::shard_bounds(0, 2, 1) == std::vector<size_t>{0, 0, 0});
  // GPT-2 124M over 8 ranks in chunks of 65536: 124,439,808 floats, S = 15,597,568 (238 chunks).
  const std::vector<size_t> gpt2 = exercise::shard_bounds(124439808, 8, 65536);
  REQUIRE(gpt2.size() == 9);
  CHECK(gpt2[1] == 15597568);
  CHECK(gpt2[8] == 124439808);
  CHECK(gpt2[7] == 7 * 15597568);  // the last shard is the short one: 15,256,832 floats
  for (size_t n : {1, 7, 100, 4097}) {
    for (int N : {1, 2, 3, 8}) {
      for (size_t align : {1, 16}) {
        const std::vector<size_t> b = exercise::shard_bounds(n, N, align);
        REQUIRE(b.size() == static_cast<size_t>(N) + 1);
        CHECK(b.front() == 0);
        CHECK(b.back() == n);
        for (int r = 0; r < N; ++r) {
          CHECK(b[r] <= b[r + 1]);
          if (b[r] < n) CHECK(b[r] % align == 0);
        }
      }
    }
  }
}

TEST_CASE("11.2 reduce_scatter sums each shard in rank order and all_gather puts the sum together",
          "[exercise]") {
  for (int N : {1, 2, 3, 4}) {
    const size_t n = 1000;
    const auto ranks = rank_buffers(N, n, /*integers=*/false, 40 + N);
    const std::vector<float> expected = rank_order_sum(ranks);  // bit for bit: the same order
    const std::vector<size_t> bounds = exercise::shard_bounds(n, N, 16);
    const auto shards = exercise::reduce_scatter(ranks, bounds);
    REQUIRE(shards.size() == static_cast<size_t>(N));
    for (int r = 0; r < N; ++r) {
      REQUIRE(shards[r].size() == bounds[r + 1] - bounds[r]);
      const std::vector<float> slice(expected.begin() + bounds[r], expected.begin() + bounds[r + 1]);
      CHECK(same_bits(shards[r], slice));
    }
    CHECK(same_bits(exercise::all_gather(shards, bounds), expected));
  }
}

TEST_CASE("11.3 bucket_schedule starts each bucket once it is complete", "[exercise]") {
  // 100 floats, buckets of 32: bucket 0 = [96, 100), 1 = [64, 96), 2 = [32, 64), 3 = [0, 32).
  const auto schedule = exercise::bucket_schedule(100, 32, {90, 70, 64, 40, 10, 0});
  const std::vector<std::vector<int>> expected = {{0}, {}, {1}, {}, {2}, {3}};
  CHECK(schedule == expected);
  // One report that completes everything starts every bucket, from the end of the buffer.
  CHECK(exercise::bucket_schedule(100, 32, {0}) == std::vector<std::vector<int>>{{0, 1, 2, 3}});
  // Reports that complete nothing yet, then everything at once; then nothing is started twice.
  CHECK(exercise::bucket_schedule(100, 32, {100, 99, 0, 0}) ==
        std::vector<std::vector<int>>{{}, {}, {0, 1, 2, 3}, {}});
  // A bucket as big as the buffer: one bucket, ready only at the end of backward.
  CHECK(exercise::bucket_schedule(100, 200, {50, 0}) == std::vector<std::vector<int>>{{}, {0}});
}
