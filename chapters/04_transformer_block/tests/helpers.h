// Small helpers shared by chapter 04's test files.
#pragma once

#include <numeric>
#include <string>
#include <vector>

#include "common/rng.h"
#include "common/safetensors.h"
#include "common/testing.h"
#include "tests/catch.h"

namespace ch04_test {

inline gpt2::SafetensorsFile fixture() {
  return gpt2::SafetensorsFile::open(gpt2::fixture_dir() + "/04_transformer_block.safetensors");
}

inline int dim(const gpt2::SafetensorsFile& f, const std::string& name, int d) {
  return static_cast<int>(f.info(name).shape.at(d));
}

inline std::vector<double> random_vector(size_t n, gpt2::Rng& rng, double scale = 1.0) {
  std::vector<double> v(n);
  for (double& x : v) x = scale * rng.normal();
  return v;
}

inline double dot(const std::vector<double>& a, const std::vector<double>& b) {
  return std::inner_product(a.begin(), a.end(), b.begin(), 0.0);
}

// The relative error of common/testing.h (max |ours - ref| / max |ref|), reported through Catch.
inline void check_rel(const std::vector<float>& ours, const std::vector<float>& ref, double tol,
                      const std::string& what) {
  auto r = gpt2::rel_close(ours, ref, tol, what);
  INFO(r.message);
  CHECK(r.ok);
}

// Tolerances for the PyTorch comparisons (max |ours - ref| / max |ref|): the references are
// float64 results rounded to float32; ours are float32 computations whose sums have at most a
// few hundred terms (4C = 80 in the block), so their rounding error is a few 1e-7 of the largest
// value, and the backward passes add one more level of sums: 1e-5 for outputs and
// 1e-4 for gradients hold with an order of magnitude to spare.
constexpr double kOutTol = 1e-5;
constexpr double kGradTol = 1e-4;

// Finite differences in double: central differences with eps = 1e-6 have truncation error
// ~ eps^2 |f'''| ~ 1e-12 and rounding error ~ 1e-16 |L| / eps ~ 1e-10 |L|; L = sum(out * w) is at
// most O(10) here, so 1e-7 (relative to max(1, |g|)) is safe and still catches any wrong term.
constexpr double kEps = 1e-6;
constexpr double kFdTol = 1e-7;

}  // namespace ch04_test
