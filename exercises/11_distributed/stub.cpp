// Exercises 11 (student version): replace each `throw` with your code, then run
//   ./build-student/bin/exercise_11_distributed
// (see exercises/11_distributed/README.md).
#include "common/error.h"
#include "exercise.h"

namespace exercise {

std::vector<size_t> ring_all_reduce(std::vector<std::vector<float>>& ranks) {
  // TODO(11.1): chunk c = [c*S, min((c+1)*S, n)), S = ceil(n / N). Write one helper that runs
  // N - 1 steps: first collect every rank's message (a copy of the chunk it sends to r + 1), then
  // deliver them all (add, or copy). Call it for the reduce-scatter (rank r sends chunk
  // (r - s) mod N, added) and for the all-gather (chunk (r + 1 - s) mod N, copied). Count the
  // floats each rank sends. Careful with (r - s) mod N in C++: -1 % 3 is -1.
  (void)ranks;
  throw gpt2::Error("exercise 11.1 ring_all_reduce: not implemented yet");
}

std::vector<size_t> shard_bounds(size_t n, int N, size_t align) {
  // TODO(11.2a): S = align * ceil(n / (N * align)); b[r] = min(r * S, n) for r = 0 .. N.
  (void)n, (void)N, (void)align;
  throw gpt2::Error("exercise 11.2 shard_bounds: not implemented yet");
}

std::vector<std::vector<float>> reduce_scatter(const std::vector<std::vector<float>>& ranks,
                                               const std::vector<size_t>& bounds) {
  // TODO(11.2b): for each owner r, its shard starts as a copy of rank 0's slice
  // [bounds[r], bounds[r+1]); then add rank 1's slice, rank 2's, ... in that order.
  (void)ranks, (void)bounds;
  throw gpt2::Error("exercise 11.2 reduce_scatter: not implemented yet");
}

std::vector<float> all_gather(const std::vector<std::vector<float>>& shards,
                              const std::vector<size_t>& bounds) {
  // TODO(11.2c): copy shard r to offset bounds[r] of a buffer of bounds.back() floats.
  (void)shards, (void)bounds;
  throw gpt2::Error("exercise 11.2 all_gather: not implemented yet");
}

std::vector<std::vector<int>> bucket_schedule(size_t n, size_t bucket_floats,
                                              const std::vector<size_t>& ready) {
  // TODO(11.3): bucket b (b = 0 at the end) covers [k * bucket_floats, min((k+1) * bucket_floats, n))
  // with k = count - 1 - b, count = ceil(n / bucket_floats). A bucket is complete when its start is
  // >= the reported offset. Keep a counter of the buckets started so far.
  (void)n, (void)bucket_floats, (void)ready;
  throw gpt2::Error("exercise 11.3 bucket_schedule: not implemented yet");
}

}  // namespace exercise
