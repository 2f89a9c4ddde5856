// The decode kernels against chapter 04's linear layer and chapter 05's head, run in double.
#include <algorithm>
#include <cstring>
#include <vector>

#include "chapters/04_transformer_block/linear.h"
#include "chapters/05_gpt2_model/lm_head.h"
#include "chapters/08_cpu_parallel/matvec.h"
#include "chapters/08_cpu_parallel/simd.h"
#include "common/rng.h"
#include "common/testing.h"
#include "tests/catch.h"
#ifdef GPT2_HAVE_OPENMP
#include <omp.h>
#endif

namespace {

std::vector<float> random_vector(size_t n, gpt2::Rng& rng) {
  std::vector<float> v(n);
  rng.fill_normal(v);
  return v;
}

std::vector<double> to_double(const std::vector<float>& v) {
  return {v.begin(), v.end()};
}

// Runs f with 1 thread and then with 2 (or once without OpenMP); returns both results.
template <typename Fn>
std::pair<std::vector<float>, std::vector<float>> one_and_two_threads(Fn f) {
#ifdef GPT2_HAVE_OPENMP
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  auto one = f();
  omp_set_num_threads(2);
  auto two = f();
  omp_set_num_threads(saved);
  return {one, two};
#else
  auto one = f();
  return {one, one};
#endif
}

}  // namespace

// Tolerance: float32 sums of up to 3072 products, in another order than the double reference:
// the error is a few ulps times sqrt(C) relative to the largest output, far below 1e-5.
TEST_CASE("matvec_conv1d is one row of the linear layer", "[matvec]") {
  gpt2::Rng rng(21);
  // GPT-2's shapes (C -> 3C, C, 4C and 4C -> C, shrunk) and awkward ones (not multiples of the
  // 64-row chunk or of a SIMD width, fewer rows than one chunk). {130, 1024} and {300, 2304} are
  // big enough to run on several threads (matvec.cpp's kParallelMin), so the thread-count check
  // means something; {1300, 5000} also splits the adding of its 21 chunks' sums between threads.
  const int shapes[][2] = {{96, 288}, {96, 96},   {96, 384},   {384, 96},   {100, 37},
                           {7, 1000}, {50, 1050}, {130, 1024}, {300, 2304}, {1300, 5000}};
  for (const auto& [C, OC] : shapes) {
    const auto x = random_vector(C, rng), W = random_vector(static_cast<size_t>(C) * OC, rng),
               b = random_vector(OC, rng);
    std::vector<double> expected(OC);
    const auto xd = to_double(x), Wd = to_double(W), bd = to_double(b);
    gpt2::linear_forward<double>(expected.data(), xd.data(), Wd.data(), bd.data(), 1, C, OC);
    auto [one, two] = one_and_two_threads([&] {
      std::vector<float> y(OC);
      gpt2::matvec_conv1d(y.data(), x.data(), W.data(), b.data(), C, OC);
      return y;
    });
    auto r =
        gpt2::rel_close(one, std::vector<float>(expected.begin(), expected.end()), 1e-6, "matvec_conv1d");
    INFO(C << " x " << OC << ": " << r.message);
    CHECK(r.ok);
    CHECK(one == two);  // the same bits whatever the thread count
  }
  // Without bias.
  const auto x = random_vector(64, rng), W = random_vector(64 * 10, rng);
  std::vector<float> y(10), expected(10);
  gpt2::matvec_conv1d(y.data(), x.data(), W.data(), nullptr, 64, 10);
  gpt2::linear_forward<float>(expected.data(), x.data(), W.data(), nullptr, 1, 64, 10);
  auto r = gpt2::rel_close(y, expected, 1e-6, "no bias");
  INFO(r.message);
  CHECK(r.ok);
}

TEST_CASE("matvec_rows is one row of the tied head", "[matvec]") {
  gpt2::Rng rng(22);
  const int shapes[][2] = {{1001, 96}, {50, 7}, {33, 130}};  // the first runs on several threads
  for (const auto& [N, C] : shapes) {
    const auto x = random_vector(C, rng), W = random_vector(static_cast<size_t>(N) * C, rng);
    std::vector<double> expected(N);
    const auto xd = to_double(x), Wd = to_double(W);
    gpt2::lm_head_forward<double>(expected.data(), xd.data(), Wd.data(), 1, C, N);
    auto [one, two] = one_and_two_threads([&] {
      std::vector<float> y(N);
      gpt2::matvec_rows(y.data(), W.data(), x.data(), N, C);
      return y;
    });
    auto r = gpt2::rel_close(one, std::vector<float>(expected.begin(), expected.end()), 1e-6, "matvec_rows");
    INFO(N << " x " << C << ": " << r.message);
    CHECK(r.ok);
    CHECK(one == two);
  }
}

// The vector versions perform the portable loops' multiplies and adds in the same order (no FMA):
// the same bits on every kernel set, so a model's float32 generation does not depend on the CPU.
TEST_CASE("matvec_conv1d and matvec_rows give the same bits on every kernel set", "[matvec][simd]") {
  gpt2::Rng rng(23);
  const gpt2::Simd saved = gpt2::active_simd();
  // 1050 = 32 * 32 + 26: the AVX-512 loop's tail is a whole register, then a masked one.
  const int shapes[][2] = {{96, 288}, {100, 37}, {7, 1000}, {130, 1027}, {50, 1050}, {768, 2304}, {3, 5}};
  for (const auto& [C, OC] : shapes) {
    const auto x = random_vector(C, rng), W = random_vector(static_cast<size_t>(C) * OC, rng),
               b = random_vector(OC, rng);
    std::vector<std::vector<float>> conv, rows;
    for (gpt2::Simd level : {gpt2::Simd::portable, gpt2::Simd::avx2_fma, gpt2::Simd::avx512}) {
      gpt2::set_simd(level);
      std::vector<float> y(OC), z(C);
      gpt2::matvec_conv1d(y.data(), x.data(), W.data(), b.data(), C, OC);
      // W as OC rows of C (the head's layout) times a vector of OC.
      const auto v = std::vector<float>(y.begin(), y.end());
      gpt2::matvec_rows(z.data(), W.data(), v.data(), C, OC);
      conv.push_back(y);
      rows.push_back(z);
    }
    gpt2::set_simd(saved);
    INFO(C << " x " << OC);
    for (size_t i = 1; i < conv.size(); ++i) {
      CHECK(std::memcmp(conv[0].data(), conv[i].data(), conv[0].size() * sizeof(float)) == 0);
      CHECK(std::memcmp(rows[0].data(), rows[i].data(), rows[0].size() * sizeof(float)) == 0);
    }
  }
}

// The tiled order, element by element, from matvec.h's description: chunk k keeps rows 64k to
// 64k + 63 where they were, and tile t of that chunk starts at 64 t times the chunk's rows.
TEST_CASE("tile_conv1d puts every weight where matvec.h says", "[matvec]") {
  const int C = 130, OC = 150;  // chunks of 64, 64, 2 rows; tiles of 64, 64, 22 columns
  std::vector<float> W(static_cast<size_t>(C) * OC);
  for (size_t i = 0; i < W.size(); ++i) W[i] = static_cast<float>(i);
  const gpt2::TiledConv1D t = gpt2::tile_conv1d(W.data(), C, OC);
  REQUIRE(t.values.size() == W.size());
  int wrong = 0;
  for (int c = 0; c < C; ++c) {
    for (int o = 0; o < OC; ++o) {
      const int c0 = c / 64 * 64, rows = std::min(64, C - c0), o0 = o / 64 * 64,
                width = std::min(64, OC - o0);
      const size_t at = static_cast<size_t>(c0) * OC + static_cast<size_t>(rows) * o0 +
                        static_cast<size_t>(c - c0) * width + (o - o0);
      if (t.values[at] != W[static_cast<size_t>(c) * OC + o]) ++wrong;
    }
  }
  CHECK(wrong == 0);
}

// The decode copy of WeightFormatBackend in f32 must not change a single bit of what a model
// generates: the tiled product adds what matvec_conv1d adds, in its order, on every kernel set and
// thread count.
TEST_CASE("matvec_conv1d_tiled gives matvec_conv1d's bits", "[matvec][simd]") {
  gpt2::Rng rng(29);
  const gpt2::Simd saved = gpt2::active_simd();
  // Whole tiles and chunks, a narrow last tile (OC mod 64 = 16, 37, 3), a short last chunk, both.
  const int shapes[][2] = {{768, 2304}, {3072, 768}, {48, 144}, {100, 37}, {130, 1027}, {64, 64}, {3, 5}};
  for (const auto& [C, OC] : shapes) {
    const auto x = random_vector(C, rng), W = random_vector(static_cast<size_t>(C) * OC, rng),
               b = random_vector(OC, rng);
    gpt2::set_simd(gpt2::Simd::portable);
    std::vector<float> expected(OC);
    gpt2::matvec_conv1d(expected.data(), x.data(), W.data(), b.data(), C, OC);
    const gpt2::TiledConv1D tiled = gpt2::tile_conv1d(W.data(), C, OC);
    for (gpt2::Simd level : {gpt2::Simd::portable, gpt2::Simd::avx2_fma, gpt2::Simd::avx512}) {
      gpt2::set_simd(level);
      auto [one, two] = one_and_two_threads([&] {
        std::vector<float> y(OC);
        gpt2::matvec_conv1d_tiled(y.data(), x.data(), tiled, b.data());
        return y;
      });
      INFO(C << " x " << OC << ", " << gpt2::simd_name(gpt2::active_simd()));
      CHECK(std::memcmp(expected.data(), one.data(), expected.size() * sizeof(float)) == 0);
      CHECK(std::memcmp(expected.data(), two.data(), expected.size() * sizeof(float)) == 0);
    }
    gpt2::set_simd(saved);
  }
}
