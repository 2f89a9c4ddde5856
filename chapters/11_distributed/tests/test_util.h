// Small helpers shared by chapter 11's tests.
#pragma once

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

}  // namespace ch11_test
