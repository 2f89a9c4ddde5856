// Small helpers shared by chapter 11's tests.
#pragma once

#include <cmath>
#include <cstring>
#include <span>
#include <vector>

#include "common/rng.h"

namespace ch11_test {

inline bool same_bits(std::span<const float> a, std::span<const float> b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size_bytes()) == 0;
}

/// M micro-batches of (B, T) random token ids below V, micro-batch j at offset j·B·T.
struct Batches {
  std::vector<int> inputs, targets;
};
inline Batches random_batches(int M, int B, int T, int V, uint64_t seed) {
  gpt2::Rng rng(seed);
  Batches b;
  for (int i = 0; i < M * B * T; ++i) {
    b.inputs.push_back(static_cast<int>(rng.below(V)));
    b.targets.push_back(static_cast<int>(rng.below(V)));
  }
  return b;
}

// Rank q's buffer in a test: n normal floats of widely varying size (so that the order of the
// additions shows in the bits).
inline std::vector<float> buffer_of(int q, size_t n, uint64_t seed) {
  gpt2::Rng rng(seed * 1000 + q);
  std::vector<float> v(n);
  for (float& x : v) x = rng.normal() * std::exp2(static_cast<float>(rng.below(20)) - 10.0f);
  return v;
}

// What one process computes: ((b_0 + b_1) + b_2) + ... in float, rank by rank.
inline std::vector<float> rank_order_sum(int N, size_t n, uint64_t seed) {
  std::vector<float> sum = buffer_of(0, n, seed);
  for (int q = 1; q < N; ++q) {
    const std::vector<float> b = buffer_of(q, n, seed);
    for (size_t i = 0; i < n; ++i) sum[i] += b[i];
  }
  return sum;
}

}  // namespace ch11_test
