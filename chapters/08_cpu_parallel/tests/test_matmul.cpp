// Chapter 08: the fast matrix multiply against its plain twin (chapter 04's linear.h).
//
// Tolerance, derived rather than picked. A dot product of K terms plus one more (the bias or the
// value already in the output) computed in float, in any order, with or without fused
// multiply-add, is within gamma(K+1) * S of the exact value, where S = sum |a_k b_k| + |extra| and
// gamma(n) = n u / (1 - n u), u = 2^-24 (Higham, "Accuracy and Stability of Numerical Algorithms",
// 3.1). The plain and the fast kernel each obey it, so they differ by at most 2 gamma(K+1) S,
// which is about (K + 1) * FLT_EPSILON * S; we allow (K + 2) * FLT_EPSILON * S per element.
// S is computed in double from the inputs.
#include <cfloat>
#include <cmath>
#include <cstring>
#include <vector>

#include "chapters/04_transformer_block/linear.h"
#include "chapters/08_cpu_parallel/matmul.h"
#include "chapters/08_cpu_parallel/matmul_steps.h"
#include "chapters/08_cpu_parallel/parallel.h"
#include "chapters/08_cpu_parallel/simd.h"
#include "chapters/08_cpu_parallel/tests/test_util.h"
#include "common/error.h"
#include "common/rng.h"
#include "tests/catch.h"

namespace {

using ch08_test::levels;
using ch08_test::random_vector;
using ch08_test::same_bits;
using ch08_test::with;

// Element (r, c) of op(X), for the reference computations.
float at(const gpt2::MatRef& x, int r, int c) {
  return x.transposed ? x.data[static_cast<size_t>(c) * x.ld + r] : x.data[static_cast<size_t>(r) * x.ld + c];
}

// Checks |actual - expected| <= (K + 2) * FLT_EPSILON * scale element-wise (see the file comment)
// and reports the worst element.
struct BoundCheck {
  bool ok = true;
  std::string message = "all within bound";
};
BoundCheck within_bound(const std::vector<float>& actual, const std::vector<float>& expected,
                        const std::vector<double>& scale, int K, const std::string& what) {
  BoundCheck result;
  double worst_ratio = 0;
  size_t worst = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double bound = (K + 2) * static_cast<double>(FLT_EPSILON) * scale[i];
    const double err = std::fabs(static_cast<double>(actual[i]) - expected[i]);
    const double ratio = err / std::max(bound, 1e-300);
    if (!(ratio <= worst_ratio)) {  // also catches NaN
      worst_ratio = ratio;
      worst = i;
    }
  }
  if (!(worst_ratio <= 1.0)) {
    result.ok = false;
    result.message = gpt2::cat(what, ": element ", worst, " is ", actual[worst], ", expected ",
                               expected[worst], ", error/bound = ", worst_ratio);
  } else {
    result.message = gpt2::cat(what, ": worst error/bound = ", worst_ratio);
  }
  return result;
}

struct Shape3 {
  int BT, C, OC;
};
// Tiny, T = 1, sizes that are not multiples of the tiles (6 x 16, 6 x 32) or of the blocks (KC is
// 256 to 768 by the CPU's L2, MC = 144, NC = 768 or 256), ones that cross every block boundary, and
// a GPT-2-sized one.
const Shape3 kShapes[] = {{1, 1, 1},      {1, 768, 2304}, {2, 3, 5},    {5, 7, 15},      {6, 16, 16},
                          {7, 17, 33},    {13, 257, 47},  {64, 64, 64}, {150, 300, 530}, {37, 513, 1025},
                          {256, 768, 96}, {64, 1, 8},     {3, 600, 1},  {20, 1601, 1100}};

}  // namespace

TEST_CASE("linear_forward_fast matches linear_forward within the float rounding bound", "[ch08][matmul]") {
  for (const Shape3& s : kShapes) {
    const auto inp = random_vector(static_cast<size_t>(s.BT) * s.C, 1);
    const auto weight = random_vector(static_cast<size_t>(s.C) * s.OC, 2);
    const auto bias = random_vector(s.OC, 3);
    for (bool with_bias : {true, false}) {
      const float* b = with_bias ? bias.data() : nullptr;
      std::vector<float> expected(static_cast<size_t>(s.BT) * s.OC);
      gpt2::linear_forward(expected.data(), inp.data(), weight.data(), b, s.BT, s.C, s.OC);
      std::vector<double> scale(expected.size());
      for (int i = 0; i < s.BT; ++i) {
        for (int o = 0; o < s.OC; ++o) {
          double sum = with_bias ? std::fabs(bias[o]) : 0.0;
          for (int c = 0; c < s.C; ++c) sum += std::fabs(inp[i * s.C + c] * weight[c * s.OC + o]);
          scale[static_cast<size_t>(i) * s.OC + o] = sum;
        }
      }
      for (gpt2::Simd level : levels()) {
        std::vector<float> out(expected.size(), NAN);
        with(2, level,
             [&] { gpt2::linear_forward_fast(out.data(), inp.data(), weight.data(), b, s.BT, s.C, s.OC); });
        auto r = within_bound(out, expected, scale, s.C,
                              gpt2::cat("forward BT=", s.BT, " C=", s.C, " OC=", s.OC, " bias=", with_bias,
                                        " ", gpt2::simd_name(gpt2::active_simd())));
        INFO(r.message);
        CHECK(r.ok);
      }
    }
  }
}

TEST_CASE("linear_backward_fast matches linear_backward and adds into the gradients", "[ch08][matmul]") {
  for (const Shape3& s : kShapes) {
    const size_t n_inp = static_cast<size_t>(s.BT) * s.C, n_w = static_cast<size_t>(s.C) * s.OC;
    const size_t n_out = static_cast<size_t>(s.BT) * s.OC;
    const auto inp = random_vector(n_inp, 4), weight = random_vector(n_w, 5), dout = random_vector(n_out, 6);
    // Gradient buffers start non-zero: the backward must add to them.
    const auto dinp0 = random_vector(n_inp, 7), dw0 = random_vector(n_w, 8), db0 = random_vector(s.OC, 9);
    std::vector<float> dinp_ref = dinp0, dw_ref = dw0, db_ref = db0;
    gpt2::linear_backward(dinp_ref.data(), dw_ref.data(), db_ref.data(), dout.data(), inp.data(),
                          weight.data(), s.BT, s.C, s.OC);
    std::vector<double> s_dinp(n_inp), s_dw(n_w), s_db(s.OC);
    for (int i = 0; i < s.BT; ++i) {
      for (int c = 0; c < s.C; ++c) {
        double sum = std::fabs(dinp0[i * s.C + c]);
        for (int o = 0; o < s.OC; ++o) sum += std::fabs(dout[i * s.OC + o] * weight[c * s.OC + o]);
        s_dinp[static_cast<size_t>(i) * s.C + c] = sum;
      }
    }
    for (int c = 0; c < s.C; ++c) {
      for (int o = 0; o < s.OC; ++o) {
        double sum = std::fabs(dw0[c * s.OC + o]);
        for (int i = 0; i < s.BT; ++i) sum += std::fabs(inp[i * s.C + c] * dout[i * s.OC + o]);
        s_dw[static_cast<size_t>(c) * s.OC + o] = sum;
      }
    }
    for (int o = 0; o < s.OC; ++o) {
      double sum = std::fabs(db0[o]);
      for (int i = 0; i < s.BT; ++i) sum += std::fabs(dout[i * s.OC + o]);
      s_db[o] = sum;
    }
    for (gpt2::Simd level : levels()) {
      std::vector<float> dinp = dinp0, dw = dw0, db = db0;
      with(2, level, [&] {
        gpt2::linear_backward_fast(dinp.data(), dw.data(), db.data(), dout.data(), inp.data(), weight.data(),
                                   s.BT, s.C, s.OC);
      });
      const std::string what = gpt2::cat(" BT=", s.BT, " C=", s.C, " OC=", s.OC, " ", gpt2::simd_name(level));
      auto r1 = within_bound(dinp, dinp_ref, s_dinp, s.OC, "dinp" + what);
      auto r2 = within_bound(dw, dw_ref, s_dw, s.BT, "dweight" + what);
      auto r3 = within_bound(db, db_ref, s_db, s.BT, "dbias" + what);
      INFO(r1.message << "\n" << r2.message << "\n" << r3.message);
      CHECK(r1.ok);
      CHECK(r2.ok);
      CHECK(r3.ok);

      // Null pointers mean "not needed": the other gradients are untouched.
      std::vector<float> dw_only = dw0;
      with(2, level, [&] {
        gpt2::linear_backward_fast(nullptr, dw_only.data(), nullptr, dout.data(), inp.data(), weight.data(),
                                   s.BT, s.C, s.OC);
      });
      CHECK(std::memcmp(dw_only.data(), dw.data(), n_w * sizeof(float)) == 0);
    }
  }
}

TEST_CASE("gemm handles every transpose combination and leading dimensions", "[ch08][matmul]") {
  // Reference in double, so the bound (K + 2) eps S is generous (the double error is tiny).
  const int N = 41, K = 300, pad = 3;
  // M = 1 and 2 take the matrix-vector path, M = 29 the packed one.
  for (int M : {1, 2, 29})
    for (bool ta : {false, true}) {
      for (bool tb : {false, true}) {
        const int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
        const auto a = random_vector(static_cast<size_t>(ta ? K : M) * lda, 10);
        const auto b = random_vector(static_cast<size_t>(tb ? N : K) * ldb, 11);
        const auto bias = random_vector(N, 12);
        const gpt2::MatRef A{a.data(), lda, ta}, B{b.data(), ldb, tb};
        for (bool accumulate : {false, true}) {
          const auto c0 = random_vector(static_cast<size_t>(M) * ldc, 13);
          std::vector<float> expected(static_cast<size_t>(M) * N), actual(expected.size());
          std::vector<double> scale(expected.size());
          for (int i = 0; i < M; ++i) {
            for (int j = 0; j < N; ++j) {
              double sum = bias[j] + (accumulate ? c0[i * ldc + j] : 0.0);
              double s = std::fabs(bias[j]) + (accumulate ? std::fabs(c0[i * ldc + j]) : 0.0);
              for (int k = 0; k < K; ++k) {
                sum += static_cast<double>(at(A, i, k)) * at(B, k, j);
                s += std::fabs(static_cast<double>(at(A, i, k)) * at(B, k, j));
              }
              expected[i * N + j] = static_cast<float>(sum);
              scale[i * N + j] = s;
            }
          }
          for (gpt2::Simd level : levels()) {
            std::vector<float> c = c0;
            with(2, level, [&] { gpt2::gemm(M, N, K, A, B, c.data(), ldc, accumulate, bias.data()); });
            for (int i = 0; i < M; ++i) {
              for (int j = 0; j < N; ++j) actual[i * N + j] = c[i * ldc + j];
              // The padding between rows of C is never written.
              for (int j = N; j < ldc; ++j) REQUIRE(c[i * ldc + j] == c0[i * ldc + j]);
            }
            auto r = within_bound(actual, expected, scale, K,
                                  gpt2::cat("gemm ta=", ta, " tb=", tb, " acc=", accumulate, " ",
                                            gpt2::simd_name(gpt2::active_simd())));
            INFO(r.message);
            CHECK(r.ok);
          }
        }
      }
    }
}

TEST_CASE("on a SIMD kernel set, gemm adds each element's products in the order of k, fused",
          "[ch08][matmul]") {
  // The kernels start a tile from C (plus the bias in the first K block) and add a_ik b_kj for
  // k = 0, 1, ... with one fused multiply-add each, storing C between K blocks. So the result is
  // the scalar chain c = fma(a_ik, b_kj, c) exactly, whatever the block sizes this CPU's caches
  // chose and however the loops are nested: the reason two machines with the same kernel set
  // print the same numbers. K = 1700 crosses K blocks of 256, 384 and 768 alike (K = 300 those
  // of 256); the shapes take the three loop orders of gemm_block (A packed once for all columns,
  // shared by the threads or, for 270 x 260, packed by each thread for its rows; B packed once
  // for all rows; both packed block by block).
  struct Case {
    int M, N;
    bool tb;
    int K = 1700;
  };
  for (const Case& cs : {Case{13, 1000, false}, Case{13, 1000, true}, Case{150, 70, true},
                         Case{150, 70, false}, Case{20, 100, true}, Case{270, 260, false, 300}}) {
    const int M = cs.M, N = cs.N, K = cs.K;
    const auto a = random_vector(static_cast<size_t>(M) * K, 30);
    const auto b = random_vector(static_cast<size_t>(K) * N, 31);
    const auto bias = random_vector(N, 32), c0 = random_vector(static_cast<size_t>(M) * N, 33);
    const gpt2::MatRef A{a.data(), K, false}, B{b.data(), cs.tb ? K : N, cs.tb};
    for (bool accumulate : {false, true}) {
      std::vector<float> expected(static_cast<size_t>(M) * N);
      for (int i = 0; i < M; ++i) {
        for (int j = 0; j < N; ++j) {
          float c = (accumulate ? c0[i * N + j] : 0.0f) + bias[j];
          for (int k = 0; k < K; ++k) c = std::fma(at(A, i, k), at(B, k, j), c);
          expected[i * N + j] = c;
        }
      }
      for (gpt2::Simd level : levels()) {
        std::vector<float> c = c0;
        gpt2::Simd used = level;
        with(2, level, [&] {
          used = gpt2::active_simd();
          gpt2::gemm(M, N, K, A, B, c.data(), N, accumulate, bias.data());
        });
        if (used == gpt2::Simd::portable) continue;  // plain C++: the compiler may or may not fuse
        INFO("M=" << M << " N=" << N << " tb=" << cs.tb << " accumulate=" << accumulate << " "
                  << gpt2::simd_name(used));
        CHECK(same_bits(c, expected));
      }
    }
  }
}

TEST_CASE("gemm with K = 0 writes the bias (or keeps C when accumulating)", "[ch08][matmul]") {
  std::vector<float> c(6, 5.0f);
  const std::vector<float> bias = {1, 2, 3};
  gpt2::gemm(2, 3, 0, gpt2::MatRef{nullptr, 0, false}, gpt2::MatRef{nullptr, 3, false}, c.data(), 3, false,
             bias.data());
  CHECK(c == std::vector<float>{1, 2, 3, 1, 2, 3});
  gpt2::gemm(2, 3, 0, gpt2::MatRef{nullptr, 0, false}, gpt2::MatRef{nullptr, 3, false}, c.data(), 3, true,
             nullptr);
  CHECK(c == std::vector<float>{1, 2, 3, 1, 2, 3});
}

TEST_CASE("the fast linear layer gives the same bits with 1 and 2 threads", "[ch08][matmul][determinism]") {
  // Shapes where the threads split the columns (BT < OC) and where they split the rows (C > OC).
  const Shape3 shapes[] = {{64, 768, 2304}, {256, 300, 70}, {1, 768, 768}, {37, 513, 1025}};
  for (const Shape3& s : shapes) {
    const size_t n_inp = static_cast<size_t>(s.BT) * s.C, n_w = static_cast<size_t>(s.C) * s.OC;
    const size_t n_out = static_cast<size_t>(s.BT) * s.OC;
    const auto inp = random_vector(n_inp, 20), weight = random_vector(n_w, 21),
               bias = random_vector(s.OC, 22);
    const auto dout = random_vector(n_out, 23);
    for (gpt2::Simd level : levels()) {
      std::vector<float> out[2], dinp[2], dw[2], db[2];
      for (int threads : {1, 2}) {
        auto& o = out[threads - 1];
        o.assign(n_out, 0.0f);
        dinp[threads - 1].assign(n_inp, 0.5f);
        dw[threads - 1].assign(n_w, 0.25f);
        db[threads - 1].assign(s.OC, 0.0f);
        with(threads, level, [&] {
          gpt2::linear_forward_fast(o.data(), inp.data(), weight.data(), bias.data(), s.BT, s.C, s.OC);
          gpt2::linear_backward_fast(dinp[threads - 1].data(), dw[threads - 1].data(), db[threads - 1].data(),
                                     dout.data(), inp.data(), weight.data(), s.BT, s.C, s.OC);
        });
      }
      INFO("BT=" << s.BT << " C=" << s.C << " OC=" << s.OC << " " << gpt2::simd_name(level));
      CHECK(std::memcmp(out[0].data(), out[1].data(), n_out * sizeof(float)) == 0);
      CHECK(std::memcmp(dinp[0].data(), dinp[1].data(), n_inp * sizeof(float)) == 0);
      CHECK(std::memcmp(dw[0].data(), dw[1].data(), n_w * sizeof(float)) == 0);
      CHECK(std::memcmp(db[0].data(), db[1].data(), s.OC * sizeof(float)) == 0);
    }
  }
}

TEST_CASE("every step of the chapter's matmul walk computes the same product", "[ch08][matmul]") {
  const int M = 33, K = 520, N = 70;
  const auto a = random_vector(static_cast<size_t>(M) * K, 30),
             b = random_vector(static_cast<size_t>(K) * N, 31);
  std::vector<float> expected(static_cast<size_t>(M) * N);
  gpt2::linear_forward(expected.data(), a.data(), b.data(), static_cast<const float*>(nullptr), M, K, N);
  std::vector<double> scale(expected.size());
  for (int i = 0; i < M; ++i) {
    for (int j = 0; j < N; ++j) {
      double s = 0;
      for (int k = 0; k < K; ++k) s += std::fabs(a[i * K + k] * b[k * N + j]);
      scale[i * N + j] = s;
    }
  }
  using Step = void (*)(float*, const float*, const float*, int, int, int);
  const std::pair<const char*, Step> steps[] = {
      {"naive", gpt2::matmul_naive},
      {"loop_order", gpt2::matmul_loop_order},
      {"blocked", gpt2::matmul_blocked},
      {"packed_portable", gpt2::matmul_packed_portable},
      {"packed_avx2", gpt2::matmul_packed_avx2},
      {"packed_avx512", gpt2::matmul_packed_avx512},
      {"parallel", gpt2::matmul_parallel},
  };
  for (const auto& [name, step] : steps) {
    std::vector<float> out(expected.size(), NAN);
    step(out.data(), a.data(), b.data(), M, K, N);
    auto r = within_bound(out, expected, scale, K, name);
    INFO(r.message);
    CHECK(r.ok);
  }
}
