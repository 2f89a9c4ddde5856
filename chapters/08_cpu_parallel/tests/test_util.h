// Helpers shared by chapter 08's tests.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "chapters/08_cpu_parallel/parallel.h"
#include "chapters/08_cpu_parallel/simd.h"
#include "common/error.h"
#include "common/rng.h"

namespace ch08_test {

/// n floats uniform in [lo, hi), from a fixed seed.
inline std::vector<float> random_vector(size_t n, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  gpt2::Rng rng(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = lo + (hi - lo) * rng.uniform();
  return v;
}

/// Runs fn() with `threads` OpenMP threads and the given SIMD level, restoring both afterwards.
template <typename Fn>
void with(int threads, gpt2::Simd simd, Fn fn) {
  const gpt2::Simd saved = gpt2::active_simd();
  gpt2::set_simd(simd);
  {
    gpt2::ScopedThreads scoped(threads);
    fn();
  }
  gpt2::set_simd(saved);
}

/// Identical bit patterns (what the determinism tests demand).
inline bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

/// The outcome of within(): ok, and a message that names the worst element.
struct Check {
  bool ok = true;
  std::string message;
};

/// |actual[i] - expected[i]| <= bound[i] for every i (NaN fails); `expected` in float or double.
template <typename Expected>
Check within(const std::vector<float>& actual, const std::vector<Expected>& expected,
             const std::vector<double>& bound, const std::string& what) {
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double r = std::fabs(static_cast<double>(actual[i]) - static_cast<double>(expected[i])) /
                     std::max(bound[i], 1e-300);
    if (!(r <= worst)) {
      worst = r;
      at = i;
    }
  }
  Check c;
  c.ok = worst <= 1.0;
  c.message = gpt2::cat(what, ": worst error/bound ", worst, " at ", at, " (",
                        actual.empty() ? 0.0 : static_cast<double>(actual[at]), " vs ",
                        expected.empty() ? 0.0 : static_cast<double>(expected[at]), ")");
  return c;
}

/// True when this run tests the AVX-512 kernel set: the environment variable GPT2_TEST_SIMD is
/// "avx512" (CTest's test_08_cpu_parallel_avx512 sets it; tests/test_main.cpp skips that run on a
/// CPU without AVX-512).
inline bool testing_avx512() {
  const char* env = std::getenv("GPT2_TEST_SIMD");
  return env && std::strcmp(env, "avx512") == 0;
}

/// The kernel sets each test compares with the plain twin: portable and AVX2 (on a CPU without
/// AVX2, set_simd turns the second into the first), or AVX-512 alone when testing_avx512().
inline std::vector<gpt2::Simd> levels() {
  if (testing_avx512()) return {gpt2::Simd::avx512};
  return {gpt2::Simd::portable, gpt2::Simd::avx2_fma};
}

}  // namespace ch08_test
