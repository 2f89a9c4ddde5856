// Chapter 08: the readable packed step (packed_step.h) against the plain loop, computed exactly.
//
// Tolerance (as in test_matmul.cpp): a sum of K products computed in float in any order, with or
// without fused multiply-add, is within about K u S of the exact value, S = sum |a_k b_k|,
// u = 2^-24; the plain loop and the packed step may each be that far off, so we allow
// (K + 2) FLT_EPSILON S per element, with the exact value and S computed in double.
#include <cfloat>
#include <cmath>
#include <tuple>
#include <vector>

#include "chapters/08_cpu_parallel/matmul_steps.h"
#include "chapters/08_cpu_parallel/packed_step.h"
#include "chapters/08_cpu_parallel/tests/test_util.h"
#include "tests/catch.h"

namespace {

using ch08_test::levels;
using ch08_test::random_vector;
using ch08_test::same_bits;
using ch08_test::with;

// Largest |actual - exact| / ((K + 2) FLT_EPSILON S) over the elements (<= 1 passes; NaN fails).
double worst_error_ratio(const std::vector<float>& actual, const std::vector<float>& a,
                         const std::vector<float>& b, int M, int K, int N) {
  double worst = 0;
  for (int i = 0; i < M; ++i) {
    for (int j = 0; j < N; ++j) {
      double exact = 0, scale = 0;
      for (int k = 0; k < K; ++k) {
        const double p =
            static_cast<double>(a[static_cast<size_t>(i) * K + k]) * b[static_cast<size_t>(k) * N + j];
        exact += p;
        scale += std::fabs(p);
      }
      const double bound = (K + 2) * static_cast<double>(FLT_EPSILON) * std::max(scale, 1e-30);
      const double ratio = std::fabs(actual[static_cast<size_t>(i) * N + j] - exact) / bound;
      if (!(ratio <= worst)) worst = ratio;  // also catches NaN
    }
  }
  return worst;
}

}  // namespace

TEST_CASE("packed step: equals the exact product within the float bound, both kernels, edge tiles",
          "[packed_step]") {
  // Sizes that are and are not multiples of the 6 x 16 tile and of the 256 / 512 blocks.
  for (auto [M, K, N] : {std::tuple{1, 1, 1}, std::tuple{6, 16, 16}, std::tuple{7, 3, 17},
                         std::tuple{13, 300, 40}, std::tuple{64, 257, 530}, std::tuple{5, 520, 1030}}) {
    const auto a = random_vector(static_cast<size_t>(M) * K, 11),
               b = random_vector(static_cast<size_t>(K) * N, 12);
    std::vector<float> plain(static_cast<size_t>(M) * N);
    gpt2::matmul_loop_order(plain.data(), a.data(), b.data(), M, K, N);
    for (gpt2::Simd level : levels()) {
      std::vector<float> out(static_cast<size_t>(M) * N, NAN);
      with(2, level, [&] { gpt2::matmul_packed_step(out.data(), a.data(), b.data(), M, K, N); });
      INFO("M " << M << " K " << K << " N " << N << " " << gpt2::simd_name(level));
      CHECK(worst_error_ratio(out, a, b, M, K, N) <= 1.0);
      CHECK(worst_error_ratio(plain, a, b, M, K, N) <= 1.0);  // the plain loop obeys the same bound
    }
  }
}

TEST_CASE("packed step: the same bits with 1 and 2 threads", "[packed_step]") {
  const int M = 37, K = 600, N = 1100;
  const auto a = random_vector(static_cast<size_t>(M) * K, 13),
             b = random_vector(static_cast<size_t>(K) * N, 14);
  for (gpt2::Simd level : levels()) {
    std::vector<float> one(static_cast<size_t>(M) * N), two(one.size());
    with(1, level, [&] { gpt2::matmul_packed_step(one.data(), a.data(), b.data(), M, K, N); });
    with(2, level, [&] { gpt2::matmul_packed_step(two.data(), a.data(), b.data(), M, K, N); });
    INFO(gpt2::simd_name(level));
    CHECK(same_bits(one, two));
  }
}
