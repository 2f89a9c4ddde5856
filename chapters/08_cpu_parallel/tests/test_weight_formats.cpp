// Chapter 08: the bf16 and q8 weight formats (weight_formats.h) and their fast products
// (format_kernels.h), each against its plain twin and against the float product it approximates.
//
// Tolerances, derived (the chapter README has the derivation):
//  - Rounding to bf16 (8-bit significand, round to nearest) moves a weight by at most
//    2^-8 |w|; so a dot product moves by at most 2^-8 sum |w_c x_c|.
//  - q8: a block's scale is s = max |w| / 127 and q = round(w / s), so |w - s q| <= s / 2 (up to
//    the float rounding of w / s, at most 3 u |w / s| <= 381 u s: we allow s / 2 (1 + 1e-4)); a
//    dot product moves by at most sum over blocks b of (s_b / 2) sum_{c in b} |x_c|.
//  - q8 x q8: with x = t q_x + e_x as well (|e_x| <= t / 2), w x - (s q_w)(t q_x) =
//    e_w x + (s q_w) e_x, so the block's error is at most (s / 2) sum |x_c| + (t / 2) sum |s q_w,c|.
//  - On top of each, the float rounding of the sums: a sum of K terms in float, in any order, is
//    within gamma(K + 1) S of the exact one, S = sum of the absolute terms, about (K + 1) u S;
//    two such computations (fast and plain) differ by at most about (K + 2) FLT_EPSILON S.
// The references and the bounds are computed in double from the inputs.
#include <cfloat>
#include <cmath>
#include <cstring>
#include <functional>
#include <vector>

#include "chapters/08_cpu_parallel/format_kernels.h"
#include "chapters/08_cpu_parallel/parallel.h"
#include "chapters/08_cpu_parallel/simd.h"
#include "chapters/08_cpu_parallel/tests/test_util.h"
#include "chapters/08_cpu_parallel/weight_formats.h"
#include "common/error.h"
#include "common/safetensors.h"
#include "tests/catch.h"

namespace {

using ch08_test::levels;
using ch08_test::random_vector;
using ch08_test::same_bits;
using ch08_test::with;
using ch08_test::within;

constexpr double kEps = FLT_EPSILON;  // 2^-23
constexpr double kQuantMargin = 1.0 + 1e-4;

// A product to check: W (rows, cols) as float (in the rows layout), inp (N, cols), bias (rows).
struct Problem {
  int rows, cols, N;
  std::vector<float> w, inp, bias;
};

Problem make_problem(int rows, int cols, int N, uint64_t seed) {
  Problem p{rows, cols, N, {}, {}, {}};
  p.w = random_vector(static_cast<size_t>(rows) * cols, seed, -0.1f, 0.1f);
  p.inp = random_vector(static_cast<size_t>(N) * cols, seed + 1, -2.0f, 2.0f);
  p.bias = random_vector(static_cast<size_t>(rows), seed + 2);
  return p;
}

// The exact float product, and the quantities the bounds are made of, in double.
struct Reference {
  std::vector<double> out;         // bias + sum_c w x
  std::vector<double> abs_sum;     // |bias| + sum_c |w x|
  std::vector<double> q8_bound;    // sum_b (s_b / 2) sum_{c in b} |x_c|           (weights in q8)
  std::vector<double> q8q8_bound;  // ... + (t_b / 2) sum_{c in b} |w_c|, t_b the activations' scale
};

Reference reference(const Problem& p) {
  Reference ref;
  const size_t n_out = static_cast<size_t>(p.N) * p.rows;
  ref.out.assign(n_out, 0);
  ref.abs_sum.assign(n_out, 0);
  ref.q8_bound.assign(n_out, 0);
  ref.q8q8_bound.assign(n_out, 0);
  for (int n = 0; n < p.N; ++n) {
    const float* x = p.inp.data() + static_cast<size_t>(n) * p.cols;
    for (int r = 0; r < p.rows; ++r) {
      const float* w = p.w.data() + static_cast<size_t>(r) * p.cols;
      const size_t i = static_cast<size_t>(n) * p.rows + r;
      double sum = p.bias[r], abs_sum = std::fabs(p.bias[r]), qb = 0, qqb = 0;
      for (int c0 = 0; c0 < p.cols; c0 += gpt2::kQ8Block) {
        const int c1 = std::min(p.cols, c0 + gpt2::kQ8Block);
        double w_max = 0, x_max = 0, x_abs = 0, w_abs = 0;
        for (int c = c0; c < c1; ++c) {
          sum += static_cast<double>(w[c]) * x[c];
          abs_sum += std::fabs(static_cast<double>(w[c]) * x[c]);
          w_max = std::max(w_max, std::fabs(static_cast<double>(w[c])));
          x_max = std::max(x_max, std::fabs(static_cast<double>(x[c])));
          x_abs += std::fabs(x[c]);
          w_abs += std::fabs(w[c]);
        }
        const double s = w_max / 127, t = x_max / 127;
        qb += s / 2 * kQuantMargin * x_abs;
        // |s q_w| <= |w| + s / 2 for each weight of the block.
        qqb +=
            s / 2 * kQuantMargin * x_abs + t / 2 * kQuantMargin * (w_abs + (c1 - c0) * s / 2 * kQuantMargin);
      }
      ref.out[i] = sum;
      ref.abs_sum[i] = abs_sum;
      ref.q8_bound[i] = qb;
      ref.q8q8_bound[i] = qqb;
    }
  }
  return ref;
}

// Float rounding allowance for a sum of K terms whose absolute values add up to S, computed twice
// (see the file comment); S is enlarged by the quantization bound, since the terms are of the
// quantized values.
std::vector<double> rounding(const Reference& ref, const std::vector<double>& quant, int K) {
  std::vector<double> b(ref.abs_sum.size());
  for (size_t i = 0; i < b.size(); ++i) b[i] = (K + 2) * kEps * (ref.abs_sum[i] + quant[i]);
  return b;
}

std::vector<double> plus(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> s(a.size());
  for (size_t i = 0; i < a.size(); ++i) s[i] = a[i] + b[i];
  return s;
}

// Awkward shapes (a partial q8 block, fewer columns than a block, a last part of 16 to 31 columns,
// one row), GPT-2's (shrunk and full width), and ones large enough to run on several threads;
// N = 1 (decoding) and N > 4 (the gemm panels), N = 2..4 (dot products for a few rows).
struct Case {
  int rows, cols, N;
};
const Case kCases[] = {{1, 1, 1},      {5, 7, 1},     {37, 100, 1},   {96, 288, 1},   {288, 96, 3},
                       {100, 37, 7},   {1001, 96, 1}, {130, 1024, 2}, {2304, 768, 1}, {768, 3072, 1},
                       {700, 768, 16}, {33, 130, 5},  {9, 57, 2}};

}  // namespace

TEST_CASE("float_to_bf16 rounds to the nearest bfloat16, ties to even", "[formats]") {
  // An independent reference: the two bfloat16 neighbours of x, in double, and the nearer one.
  auto nearest = [](float x) {
    uint32_t bits;
    std::memcpy(&bits, &x, 4);
    const uint16_t down = static_cast<uint16_t>(bits >> 16);
    const uint16_t up = static_cast<uint16_t>(down + 1);
    const double d = std::fabs(static_cast<double>(gpt2::bf16_to_float(down)) - x);
    const double u = std::fabs(static_cast<double>(gpt2::bf16_to_float(up)) - x);
    if (d < u) return down;
    if (u < d) return up;
    return (down & 1) ? up : down;
  };
  const auto values = random_vector(10000, 7, -1000.0f, 1000.0f);
  for (float x : values) {
    INFO(x);
    REQUIRE(gpt2::float_to_bf16(x) == nearest(x));
    CHECK(std::fabs(gpt2::bf16_to_float(gpt2::float_to_bf16(x)) - x) <= std::ldexp(std::fabs(x), -8));
  }
  // Exact ties: 1 + 2^-8 lies halfway between 1 and 1 + 2^-7 and goes to 1 (even); 1 + 3 * 2^-8
  // halfway between 1 + 2^-7 and 1 + 2^-6 goes up to the even one.
  CHECK(gpt2::bf16_to_float(gpt2::float_to_bf16(1.0f + std::ldexp(1.0f, -8))) == 1.0f);
  CHECK(gpt2::bf16_to_float(gpt2::float_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8))) ==
        1.0f + std::ldexp(1.0f, -6));
  CHECK(std::isnan(gpt2::bf16_to_float(gpt2::float_to_bf16(NAN))));
  CHECK(std::isinf(gpt2::bf16_to_float(gpt2::float_to_bf16(INFINITY))));
}

TEST_CASE("quantize_q8_block: scale max|x| / 127, error at most s / 2, q in [-127, 127]", "[formats]") {
  for (int n : {1, 5, 31, 32}) {
    for (uint64_t seed = 1; seed <= 50; ++seed) {
      const auto x = random_vector(static_cast<size_t>(n), seed, -3.0f, 3.0f);
      int8_t q[gpt2::kQ8Block];
      std::memset(q, 99, sizeof q);
      const float s = gpt2::quantize_q8_block(x.data(), n, q);
      double amax = 0;
      for (float v : x) amax = std::max(amax, std::fabs(static_cast<double>(v)));
      CHECK(std::fabs(s - amax / 127) <= kEps * amax / 127);
      bool saw_extreme = false;
      for (int j = 0; j < gpt2::kQ8Block; ++j) {
        INFO("n=" << n << " seed=" << seed << " j=" << j);
        if (j >= n) {
          CHECK(q[j] == 0);  // padding
          continue;
        }
        CHECK(q[j] >= -127);
        CHECK(q[j] <= 127);
        CHECK(std::fabs(x[j] - static_cast<double>(s) * q[j]) <= s / 2 * kQuantMargin);
        saw_extreme |= std::abs(q[j]) == 127;
      }
      CHECK(saw_extreme);  // the largest value uses the whole range
    }
  }
  float zeros[3] = {0, 0, 0};
  int8_t q[gpt2::kQ8Block];
  CHECK(gpt2::quantize_q8_block(zeros, 3, q) == 0.0f);
  CHECK(q[0] == 0);
  float with_nan[2] = {1.0f, NAN};
  CHECK(std::isnan(gpt2::quantize_q8_block(with_nan, 2, q)));
}

TEST_CASE("to_bf16 / to_q8 read both layouts; from_bf16 / from_q8 invert them", "[formats]") {
  const int rows = 7, cols = 45;  // two q8 blocks, the second partial
  const auto w = random_vector(static_cast<size_t>(rows) * cols, 3);
  std::vector<float> wt(w.size());  // the same matrix in the Conv1D layout (cols, rows)
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c)
      wt[static_cast<size_t>(c) * rows + r] = w[static_cast<size_t>(r) * cols + c];

  const gpt2::Bf16Matrix b = gpt2::to_bf16({w.data(), rows, cols, false});
  CHECK(b.values == gpt2::to_bf16({wt.data(), rows, cols, true}).values);
  std::vector<float> back(w.size()), back_t(w.size());
  gpt2::from_bf16(b, back.data(), false);
  gpt2::from_bf16(b, back_t.data(), true);
  for (size_t i = 0; i < w.size(); ++i) {
    CHECK(back[i] == gpt2::bf16_to_float(gpt2::float_to_bf16(w[i])));  // widening is exact
  }

  const gpt2::Q8Matrix q = gpt2::to_q8({w.data(), rows, cols, false});
  const gpt2::Q8Matrix qt = gpt2::to_q8({wt.data(), rows, cols, true});
  CHECK(q.blocks() == 2);
  CHECK(q.q.size() == static_cast<size_t>(rows) * 64);
  CHECK(q.q == qt.q);
  CHECK(q.scales == qt.scales);
  gpt2::from_q8(q, back.data(), false);
  gpt2::from_q8(q, back_t.data(), true);
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < 64; ++c) {
      if (c >= cols) {
        CHECK(q.row(r)[c] == 0);  // the padding of the partial block
        continue;
      }
      const size_t i = static_cast<size_t>(r) * cols + c;
      const float s = q.row_scales(r)[c / 32];
      CHECK(back[i] == s * q.row(r)[c]);
      CHECK(back_t[static_cast<size_t>(c) * rows + r] == back[i]);
      CHECK(std::fabs(back[i] - w[i]) <= s / 2 * kQuantMargin);
    }
  }
}

namespace {

// For every case: the plain product within `quant` (the format's bound) plus the float rounding
// of the float product; the fast one on every kernel set within the same, and within the float
// rounding of the plain one; the same bits with 1 and 2 threads. `also(level, one, run)` may check
// more (run(out) computes the fast product into out).
template <typename Convert, typename Plain, typename Fast, typename Bound>
void check_products(const std::string& name, uint64_t seed, const Convert& convert, const Plain& plain,
                    const Fast& fast, const Bound& quant_bound,
                    const std::function<void(gpt2::Simd, const std::vector<float>&,
                                             const std::function<void(std::vector<float>&)>&)>& also = {}) {
  for (const Case& c : kCases) {
    const Problem p = make_problem(c.rows, c.cols, c.N, seed + c.rows);
    const Reference ref = reference(p);
    const auto W = convert(gpt2::FloatWeights{p.w.data(), p.rows, p.cols, false});
    const std::vector<double> quant = quant_bound(ref);
    const std::vector<double> round = rounding(ref, quant, p.cols);
    const std::vector<double> to_float = plus(quant, round);

    std::vector<float> plain_out(static_cast<size_t>(p.N) * p.rows);
    plain(plain_out.data(), p.inp.data(), W, p.bias.data(), p.N);
    auto r = within(plain_out, ref.out, to_float, "plain " + name + " vs float");
    INFO(c.rows << " x " << c.cols << ", N=" << c.N << ": " << r.message);
    CHECK(r.ok);
    for (gpt2::Simd level : levels()) {
      auto run = [&](std::vector<float>& out) { fast(out.data(), p.inp.data(), W, p.bias.data(), p.N); };
      std::vector<float> one(plain_out.size()), two(plain_out.size());
      with(1, level, [&] { run(one); });
      with(2, level, [&] { run(two); });
      auto f = within(one, ref.out, to_float, "fast " + name + " vs float");
      auto t = within(one, plain_out, round, "fast " + name + " vs plain " + name);
      INFO(gpt2::simd_name(level) << ": " << f.message << "; " << t.message);
      CHECK(f.ok);
      CHECK(t.ok);
      CHECK(same_bits(one, two));  // the same bits with 1 and 2 threads
      if (also) also(level, one, run);
    }
  }
}

}  // namespace

TEST_CASE("bf16 products: plain and fast within the bf16 bound of the float product", "[formats][matvec]") {
  check_products("bf16", 11, gpt2::to_bf16, gpt2::matmul_bf16, gpt2::matmul_bf16_fast,
                 [](const Reference& ref) {
                   std::vector<double> quant(ref.abs_sum.size());
                   for (size_t i = 0; i < quant.size(); ++i) quant[i] = std::ldexp(ref.abs_sum[i], -8);
                   return quant;
                 });
}

TEST_CASE("q8 products, activations float: plain and fast within the q8 bound", "[formats][matvec]") {
  check_products("q8", 21, gpt2::to_q8, gpt2::matmul_q8, gpt2::matmul_q8_fast,
                 [](const Reference& ref) { return ref.q8_bound; });
}

TEST_CASE("q8 x q8 products (activations quantized): plain and fast within the q8 x q8 bound",
          "[formats][matvec]") {
  // The int32 block sums are exact and equal in both; only the float additions of the blocks differ.
  check_products(
      "q8q8", 31, gpt2::to_q8, gpt2::matmul_q8q8, gpt2::matmul_q8q8_fast,
      [](const Reference& ref) { return ref.q8q8_bound; },
      [](gpt2::Simd level, const std::vector<float>& with_vnni, const auto& run) {
        if (level != gpt2::Simd::avx512 || !gpt2::vnni_active()) return;
        // Without VNNI (vpmaddubsw + vpmaddwd): the same exact integer sums, the same bits.
        std::vector<float> without(with_vnni.size());
        gpt2::set_vnni(false);
        with(1, level, [&] { run(without); });
        gpt2::set_vnni(true);
        CHECK(same_bits(with_vnni, without));
      });
}

TEST_CASE("format products without a bias", "[formats][matvec]") {
  const Problem p = make_problem(40, 64, 1, 41);
  const Reference ref = reference(p);
  const gpt2::Q8Matrix Q = gpt2::to_q8({p.w.data(), p.rows, p.cols, false});
  const gpt2::Bf16Matrix B = gpt2::to_bf16({p.w.data(), p.rows, p.cols, false});
  std::vector<float> with_bias(40), without(40);
  for (auto product : {gpt2::matmul_bf16_fast, gpt2::matmul_bf16}) {
    product(with_bias.data(), p.inp.data(), B, p.bias.data(), 1);
    product(without.data(), p.inp.data(), B, nullptr, 1);
    for (int r = 0; r < 40; ++r) CHECK(with_bias[r] == p.bias[r] + without[r]);
  }
  for (auto product : {gpt2::matmul_q8_fast, gpt2::matmul_q8, gpt2::matmul_q8q8_fast, gpt2::matmul_q8q8}) {
    product(with_bias.data(), p.inp.data(), Q, p.bias.data(), 1);
    product(without.data(), p.inp.data(), Q, nullptr, 1);
    for (int r = 0; r < 40; ++r) CHECK(with_bias[r] == p.bias[r] + without[r]);
  }
}

TEST_CASE("weight format names", "[formats]") {
  CHECK(gpt2::parse_weight_format("bf16", "--weights") == gpt2::WeightFormat::bf16);
  CHECK(std::string(gpt2::weight_format_name(gpt2::WeightFormat::q8)) == "q8");
  CHECK_THROWS_WITH(gpt2::parse_weight_format("int4", "--weights"),
                    Catch::Contains("--weights: unknown weight format 'int4' (expected f32, bf16 or q8)"));
}
