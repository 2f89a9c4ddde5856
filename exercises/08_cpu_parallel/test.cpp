// Exercises 08: each task against an independent reference. Tolerance for the products: a sum of
// K products computed in float in any order is within K eps sum |a_k b_k| of the exact (double)
// value (eps = FLT_EPSILON; see the chapter's test_matmul.cpp).
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <tuple>
#include <utility>
#include <vector>

#include "chapters/08_cpu_parallel/parallel.h"
#include "common/rng.h"
#include "exercise.h"
#include "tests/catch.h"

namespace {

std::vector<float> random_vector(size_t n, uint64_t seed) {
  gpt2::Rng rng(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = 2.0f * rng.uniform() - 1.0f;
  return v;
}

// out (M, N) against the exact a (M, K) @ b (K, N), within the float bound of the file comment.
void check_product(const std::vector<float>& out, const std::vector<float>& a, const std::vector<float>& b,
                   int M, int K, int N) {
  for (int i = 0; i < M; ++i) {
    for (int j = 0; j < N; ++j) {
      double exact = 0, scale = 0;
      for (int k = 0; k < K; ++k) {
        exact += static_cast<double>(a[i * K + k]) * b[k * N + j];
        scale += std::fabs(static_cast<double>(a[i * K + k]) * b[k * N + j]);
      }
      INFO("M=" << M << " K=" << K << " N=" << N << " element " << i << "," << j);
      CHECK(std::fabs(out[i * N + j] - exact) <= (K + 1) * FLT_EPSILON * scale);
    }
  }
}

}  // namespace

TEST_CASE("08.1 matmul_ikj computes a @ b", "[exercise]") {
  for (auto [M, K, N] : {std::tuple{1, 1, 1}, std::tuple{3, 5, 7}, std::tuple{17, 64, 33}}) {
    const auto a = random_vector(static_cast<size_t>(M) * K, 1),
               b = random_vector(static_cast<size_t>(K) * N, 2);
    std::vector<float> out(static_cast<size_t>(M) * N, NAN);
    exercise::matmul_ikj(out.data(), a.data(), b.data(), M, K, N);
    check_product(out, a, b, M, K, N);
  }
}

TEST_CASE("08.2 microkernel_6x16 adds the product of two packed slivers", "[exercise]") {
  const int kc = 37, ldc = 20;
  const auto a = random_vector(static_cast<size_t>(kc) * 6, 3),
             b = random_vector(static_cast<size_t>(kc) * 16, 4);
  const auto c0 = random_vector(static_cast<size_t>(6) * ldc, 5);
  std::vector<float> c = c0;
  exercise::microkernel_6x16(kc, a.data(), b.data(), c.data(), ldc);
  for (int r = 0; r < 6; ++r) {
    for (int j = 0; j < ldc; ++j) {
      if (j >= 16) {  // outside the tile: untouched
        CHECK(c[r * ldc + j] == c0[r * ldc + j]);
        continue;
      }
      double exact = c0[r * ldc + j], scale = std::fabs(c0[r * ldc + j]);
      for (int k = 0; k < kc; ++k) {
        exact += static_cast<double>(a[k * 6 + r]) * b[k * 16 + j];
        scale += std::fabs(static_cast<double>(a[k * 6 + r]) * b[k * 16 + j]);
      }
      INFO("row " << r << " column " << j);
      CHECK(std::fabs(c[r * ldc + j] - exact) <= (kc + 2) * FLT_EPSILON * scale);
    }
  }
}

TEST_CASE("08.3 sum_deterministic: chunked order, same bits with 1 and 2 threads", "[exercise]") {
  for (size_t n : {size_t{1}, size_t{4096}, size_t{4097}, size_t{100000}}) {
    const auto x = random_vector(n, 6);
    // The specified order, written out: chunk sums left to right, then their sum in chunk order.
    float expected = 0.0f;
    for (size_t i0 = 0; i0 < n; i0 += 4096) {
      float s = 0.0f;
      for (size_t i = i0; i < std::min(n, i0 + 4096); ++i) s += x[i];
      expected += s;
    }
    float with1 = 0, with2 = 0;
    {
      gpt2::ScopedThreads one(1);
      with1 = exercise::sum_deterministic(x.data(), n);
    }
    {
      gpt2::ScopedThreads two(2);
      with2 = exercise::sum_deterministic(x.data(), n);
    }
    INFO("n = " << n);
    CHECK(with1 == expected);
    CHECK(with2 == expected);
  }
}

TEST_CASE("08.4 matmul_packed computes a @ b for any shape", "[exercise]") {
  // Shapes below, at and past the 6 x 16 tile, so that edge slivers are padded and cut.
  for (auto [M, K, N] : {std::tuple{1, 1, 1}, std::tuple{6, 4, 16}, std::tuple{7, 5, 17},
                         std::tuple{13, 40, 50}, std::tuple{30, 3, 33}}) {
    const auto a = random_vector(static_cast<size_t>(M) * K, 7),
               b = random_vector(static_cast<size_t>(K) * N, 8);
    std::vector<float> out(static_cast<size_t>(M) * N, NAN);  // every element must be written
    exercise::matmul_packed(out.data(), a.data(), b.data(), M, K, N);
    check_product(out, a, b, M, K, N);
  }
}

TEST_CASE("08.5 quantize_block_q8: scale max|x| / 127, q = round(x / s)", "[exercise]") {
  for (uint64_t seed = 20; seed < 40; ++seed) {
    auto x = random_vector(32, seed);
    if (seed == 21) x[7] = 5.0f;  // one large value: the others get few levels
    int8_t q[32];
    const float s = exercise::quantize_block_q8(x.data(), q);
    double amax = 0;
    for (float v : x) amax = std::max(amax, std::fabs(static_cast<double>(v)));
    INFO("seed " << seed);
    CHECK(std::fabs(s - amax / 127) <= FLT_EPSILON * amax / 127);
    for (int j = 0; j < 32; ++j) {
      INFO("j = " << j << ", x = " << x[j] << ", q = " << int{q[j]});
      CHECK(std::abs(int{q[j]}) <= 127);
      // The nearest integer to x / s (the chapter allows either neighbour at a tie): within 1/2.
      CHECK(std::fabs(x[j] / static_cast<double>(s) - q[j]) <= 0.5 + 1e-5);
    }
  }
  std::vector<float> zeros(32, 0.0f);
  int8_t q[32];
  std::fill(q, q + 32, int8_t{9});
  CHECK(exercise::quantize_block_q8(zeros.data(), q) == 0.0f);
  CHECK(std::all_of(q, q + 32, [](int8_t v) { return v == 0; }));
}

TEST_CASE("08.6 dot_q8q8 adds the blocks' exact integer sums times their scales", "[exercise]") {
  gpt2::Rng rng(41);
  for (int blocks : {1, 3, 24}) {
    std::vector<int8_t> q(static_cast<size_t>(blocks) * 32), u(q.size());
    std::vector<float> s(static_cast<size_t>(blocks)), t(s.size());
    for (auto& v : q) v = static_cast<int8_t>(static_cast<int>(rng.below(255)) - 127);
    for (auto& v : u) v = static_cast<int8_t>(static_cast<int>(rng.below(255)) - 127);
    for (size_t b = 0; b < s.size(); ++b) {
      s[b] = 0.001f + rng.uniform() * 0.01f;
      t[b] = 0.01f + rng.uniform();
    }
    double exact = 0, scale = 0;
    for (int b = 0; b < blocks; ++b) {
      long long block = 0;
      for (int j = b * 32; j < (b + 1) * 32; ++j) block += static_cast<long long>(q[j]) * u[j];
      exact += static_cast<double>(s[b]) * t[b] * static_cast<double>(block);
      scale += std::fabs(static_cast<double>(s[b]) * t[b] * static_cast<double>(block));
    }
    INFO(blocks << " blocks");
    // Exact block sums; the float rounding is of the 2 products and the sum of each block.
    CHECK(std::fabs(exercise::dot_q8q8(q.data(), s.data(), u.data(), t.data(), blocks) - exact) <=
          (blocks + 3) * FLT_EPSILON * scale);
  }
}

TEST_CASE("08.7 matvec_tiled computes x @ W + b from the tiled order", "[exercise]") {
  // Whole chunks and tiles, a short last chunk, a narrow last tile, both, and less than one tile.
  for (auto [C, OC] :
       {std::pair{64, 64}, std::pair{128, 192}, std::pair{130, 150}, std::pair{200, 70}, std::pair{3, 5}}) {
    const auto W = random_vector(static_cast<size_t>(C) * OC, 51), x = random_vector(C, 52),
               b = random_vector(OC, 53);
    // The tiled order, element by element, from exercise.h's formula.
    std::vector<float> tiled(W.size());
    for (int c = 0; c < C; ++c) {
      for (int o = 0; o < OC; ++o) {
        const int c0 = c / 64 * 64, rows = std::min(64, C - c0), o0 = o / 64 * 64;
        const int width = std::min(64, OC - o0);
        tiled[static_cast<size_t>(c0) * OC + static_cast<size_t>(o0) * rows +
              static_cast<size_t>(c - c0) * width + (o - o0)] = W[static_cast<size_t>(c) * OC + o];
      }
    }
    std::vector<float> y(static_cast<size_t>(OC), std::nanf(""));
    exercise::matvec_tiled(y.data(), x.data(), tiled.data(), b.data(), C, OC);
    INFO(C << " x " << OC);
    int wrong = 0;
    for (int o = 0; o < OC; ++o) {
      double exact = b[o], scale = std::fabs(b[o]);
      for (int c = 0; c < C; ++c) {
        exact += static_cast<double>(x[c]) * W[static_cast<size_t>(c) * OC + o];
        scale += std::fabs(static_cast<double>(x[c]) * W[static_cast<size_t>(c) * OC + o]);
      }
      if (!(std::fabs(y[o] - exact) <= (C + 1) * FLT_EPSILON * scale)) ++wrong;
    }
    CHECK(wrong == 0);
  }
}
