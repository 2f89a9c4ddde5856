/// @file cuda_test_helpers.h
/// @brief What the chapter 09 tests share: random inputs, poisoned outputs, the tolerance rule.
#pragma once

#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "chapters/09_cuda/device.h"
#include "common/rng.h"
#include "common/testing.h"
#include "tests/catch.h"

namespace gpt2::cuda::testing {

/// n normal(mean, std) floats from `seed`: random, never all zeros, so a kernel that ignores an
/// input (or writes zeros) cannot pass by accident.
inline std::vector<float> random_floats(size_t n, uint64_t seed, float mean = 0.0f, float std = 1.0f) {
  std::vector<float> x(n);
  Rng rng(seed);
  rng.fill_normal(x, mean, std);
  return x;
}

/// n ints uniform in [0, hi).
inline std::vector<int> random_ints(size_t n, int hi, uint64_t seed) {
  std::vector<int> x(n);
  Rng rng(seed);
  for (int& v : x) v = static_cast<int>(rng.below(static_cast<uint32_t>(hi)));
  return x;
}

/// A device array of n floats, every one a NaN: an output element the kernel forgets to write
/// stays NaN, and rel_close never passes a NaN.
inline DeviceArray<float> poisoned(size_t n) {
  DeviceArray<float> a(n);
  a.poison();
  return a;
}

/// u = 2^-24, the unit roundoff of float32: one correctly rounded operation is off by at most u
/// relative.
inline constexpr double kUnitRoundoff = 1.0 / 16777216.0;

/// The tolerance (max |gpu - cpu| / max |cpu|, gpt2::rel_close) for results that are sums of K
/// float32 terms computed in a different order on each side (and with fused multiply-adds on the
/// GPU). Each order's rounding error is bounded by about K u sum|terms| (Higham's gamma_K), but
/// with rounding errors of random sign it grows like a random walk, sqrt(K) u times the size of
/// the partial sums. The factor 8 covers the largest of many such errors (about 4.5 standard
/// deviations over 10^5 elements) and both sides erring. Plus 8 u for the few correctly rounded
/// operations around the sum and for CUDA's expf/tanhf/logf (at most 2 ulp from exact).
inline double sum_tolerance(double K) {
  return 8.0 * std::sqrt(K) * kUnitRoundoff + 8.0 * kUnitRoundoff;
}

/// CHECKs rel_close(gpu, cpu, tol), naming `what` in the message.
inline void check_close(std::span<const float> gpu, std::span<const float> cpu, double tol,
                        const std::string& what) {
  const CloseResult r = rel_close(gpu, cpu, tol, what);
  INFO(r.message);
  CHECK(r.ok);
}

/// CHECKs that gpu and cpu are equal bit for bit (both sides do the same correctly rounded
/// operations in the same order). NaN never matches.
inline void check_equal(std::span<const float> gpu, std::span<const float> cpu, const std::string& what) {
  const CloseResult r = allclose(gpu, cpu, 0.0, 0.0, what);
  INFO(r.message);
  CHECK(r.ok);
}

}  // namespace gpt2::cuda::testing
