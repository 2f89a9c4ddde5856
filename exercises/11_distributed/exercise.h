/// @file exercises/11_distributed/exercise.h
/// @brief Exercises 11: the ring all-reduce, ZeRO-1's shard bookkeeping, the bucket schedule.
///
/// All three run on simulated ranks: rank r's buffer is ranks[r], an ordinary vector, and a
/// "message" is a copy from one vector into another.
#pragma once

#include <cstddef>
#include <vector>

namespace exercise {

/// 11.1: the ring all-reduce (sum) of ranks.size() = N buffers of n floats each, in place: cut
/// the buffer into N chunks (chunk c = [c·S, min((c+1)·S, n)), S = ⌈n / N⌉); N − 1
/// reduce-scatter steps (in step s rank r sends chunk (r − s) mod N to rank (r + 1) mod N, which
/// adds it to its own), then N − 1 all-gather steps (rank r sends chunk (r + 1 − s) mod N, which
/// the receiver copies). In each step all ranks send before any receives. Returns the number of
/// floats each rank sent, [N].
std::vector<size_t> ring_all_reduce(std::vector<std::vector<float>>& ranks);

/// 11.2a: the shard bounds of ZeRO-1 for n floats over N ranks, every shard starting at a
/// multiple of `align`: N + 1 offsets b, rank r owning [b[r], b[r+1]), with shard capacity
/// S = align · ⌈n / (N · align)⌉ and b[r] = min(r·S, n).
std::vector<size_t> shard_bounds(size_t n, int N, size_t align);

/// 11.2b: the reduce-scatter over `bounds`: shard r of the result is the sum over all ranks of
/// their elements [bounds[r], bounds[r+1]), added in rank order ((x_0 + x_1) + x_2) + ...
/// Returns the N shards, shard r holding bounds[r+1] − bounds[r] floats.
std::vector<std::vector<float>> reduce_scatter(const std::vector<std::vector<float>>& ranks,
                                               const std::vector<size_t>& bounds);

/// 11.2c: the all-gather: the whole buffer (bounds.back() floats) put together from the shards.
std::vector<float> all_gather(const std::vector<std::vector<float>>& shards,
                              const std::vector<size_t>& bounds);

/// 11.3: the bucket schedule. The gradient buffer of n floats is cut into buckets at multiples of
/// bucket_floats (bucket 0 is the one at the END of the buffer, the last bucket starts at 0).
/// Backward reports, one after another, the offsets `ready`: after report i every gradient at an
/// offset >= ready[i] is final. Returns, for each report, the buckets that can start their
/// reduce at that moment (complete now and not started before), in bucket order.
std::vector<std::vector<int>> bucket_schedule(size_t n, size_t bucket_floats,
                                              const std::vector<size_t>& ready);

}  // namespace exercise
