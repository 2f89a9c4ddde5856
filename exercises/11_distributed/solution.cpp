// Exercises 11: a solution, written for the exercises (the chapter's own versions are
// ring_allreduce.cpp, partition.cpp, buckets.cpp and data_parallel.cpp).
#include <algorithm>

#include "common/error.h"
#include "exercise.h"

namespace exercise {

namespace {

// x mod N in [0, N), also for negative x.
int mod(int x, int N) {
  return ((x % N) + N) % N;
}

}  // namespace

std::vector<size_t> ring_all_reduce(std::vector<std::vector<float>>& ranks) {
  const int N = static_cast<int>(ranks.size());
  GPT2_CHECK(N > 0, "ring_all_reduce: no ranks");
  const size_t n = ranks[0].size();
  const size_t S = (n + N - 1) / N;
  auto chunk_begin = [&](int c) { return std::min(n, static_cast<size_t>(c) * S); };
  auto chunk_end = [&](int c) { return std::min(n, static_cast<size_t>(c + 1) * S); };
  std::vector<size_t> sent(N, 0);

  // N - 1 steps; in step s rank r sends chunk_of(r, s) to rank r + 1, which adds or copies it.
  auto phase = [&](auto chunk_of, bool add) {
    for (int s = 0; s < N - 1; ++s) {
      // Every rank's message first (all ranks send at the same time) ...
      std::vector<std::vector<float>> message(N);
      std::vector<int> chunk(N);
      for (int r = 0; r < N; ++r) {
        chunk[r] = chunk_of(r, s);
        message[r].assign(ranks[r].begin() + chunk_begin(chunk[r]), ranks[r].begin() + chunk_end(chunk[r]));
        sent[r] += message[r].size();
      }
      // ... then every delivery.
      for (int r = 0; r < N; ++r) {
        std::vector<float>& to = ranks[(r + 1) % N];
        const size_t begin = chunk_begin(chunk[r]);
        for (size_t i = 0; i < message[r].size(); ++i) {
          to[begin + i] = add ? to[begin + i] + message[r][i] : message[r][i];
        }
      }
    }
  };
  phase([N](int r, int s) { return mod(r - s, N); }, /*add=*/true);       // reduce-scatter
  phase([N](int r, int s) { return mod(r + 1 - s, N); }, /*add=*/false);  // all-gather
  return sent;
}

std::vector<size_t> shard_bounds(size_t n, int N, size_t align) {
  GPT2_CHECK(N > 0 && align > 0, "shard_bounds: N and align must be > 0");
  const size_t units = static_cast<size_t>(N) * align;
  const size_t S = (n + units - 1) / units * align;  // align * ceil(n / (N * align))
  std::vector<size_t> bounds(N + 1);
  for (int r = 0; r <= N; ++r) bounds[r] = std::min(n, static_cast<size_t>(r) * S);
  return bounds;
}

std::vector<std::vector<float>> reduce_scatter(const std::vector<std::vector<float>>& ranks,
                                               const std::vector<size_t>& bounds) {
  const int N = static_cast<int>(bounds.size()) - 1;
  std::vector<std::vector<float>> shards(N);
  for (int owner = 0; owner < N; ++owner) {
    const size_t begin = bounds[owner], end = bounds[owner + 1];
    std::vector<float>& shard = shards[owner];
    shard.assign(ranks[0].begin() + begin, ranks[0].begin() + end);  // rank 0's contribution
    for (size_t q = 1; q < ranks.size(); ++q) {                      // then the others, in rank order
      for (size_t i = begin; i < end; ++i) shard[i - begin] += ranks[q][i];
    }
  }
  return shards;
}

std::vector<float> all_gather(const std::vector<std::vector<float>>& shards,
                              const std::vector<size_t>& bounds) {
  std::vector<float> whole(bounds.back());
  for (size_t r = 0; r < shards.size(); ++r)
    std::copy(shards[r].begin(), shards[r].end(), whole.begin() + bounds[r]);
  return whole;
}

std::vector<std::vector<int>> bucket_schedule(size_t n, size_t bucket_floats,
                                              const std::vector<size_t>& ready) {
  GPT2_CHECK(bucket_floats > 0, "bucket_schedule: bucket_floats must be > 0");
  const int count = static_cast<int>(std::max<size_t>(1, (n + bucket_floats - 1) / bucket_floats));
  // Bucket b starts at (count - 1 - b) * bucket_floats: bucket 0 is the last part of the buffer.
  auto start_of = [&](int b) { return static_cast<size_t>(count - 1 - b) * bucket_floats; };
  std::vector<std::vector<int>> schedule;
  int started = 0;
  for (size_t first_ready : ready) {
    std::vector<int> now;
    while (started < count && start_of(started) >= first_ready) now.push_back(started++);
    schedule.push_back(now);
  }
  return schedule;
}

}  // namespace exercise
