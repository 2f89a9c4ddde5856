// Chapter 08: the fast attention, LayerNorm, GELU and AdamW against their plain twins.
//
// Tolerances are first-order float error bounds, eps = FLT_EPSILON = 2^-23 (two units of
// roundoff), derived per kernel in the comments; where the fast kernel does exactly the plain
// loop's operations in the same order the test demands identical bits instead.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <vector>

#include "chapters/04_transformer_block/gelu.h"
#include "chapters/04_transformer_block/layernorm.h"
#include "chapters/04_transformer_block/multihead_attention.h"
#include "chapters/05_gpt2_model/dropout.h"
#include "chapters/06_training/adamw.h"
#include "chapters/06_training/grad_clip.h"
#include "chapters/08_cpu_parallel/adamw_fast.h"
#include "chapters/08_cpu_parallel/attention_fast.h"
#include "chapters/08_cpu_parallel/dropout_fast.h"
#include "chapters/08_cpu_parallel/gelu_fast.h"
#include "chapters/08_cpu_parallel/layernorm_fast.h"
#include "chapters/08_cpu_parallel/matmul.h"
#include "chapters/08_cpu_parallel/parallel.h"
#include "chapters/08_cpu_parallel/reduce.h"
#include "chapters/08_cpu_parallel/simd.h"
#include "chapters/08_cpu_parallel/tests/test_util.h"
#include "chapters/08_cpu_parallel/vector_ops.h"
#include "common/error.h"
#include "common/rng.h"
#include "tests/catch.h"

namespace {

using ch08_test::levels;
using ch08_test::random_vector;
using ch08_test::same_bits;
using ch08_test::with;
using ch08_test::within;

constexpr double kEps = FLT_EPSILON;

}  // namespace

// ---------------------------------------------------------------------------------------------
// Attention. Forward, per output element o_ti = sum_s p_ts v_si: a score S_s = scale q.k_s of HS
// products carries an error e_s <= (HS + 2) eps scale sum_i |q_i k_si|; through the softmax a
// score error E = max_s e_s changes p_s by at most 2 E p_s; exp, the sum of n = t + 1 terms and the
// division add (n + 4) eps p_s; the weighted sum of n values adds (n + 1) eps sum_s p_s |v_si|.
// So each implementation is within (2E + (2n + 6) eps) sum_s p_s |v_si| of the exact value, and
// the two within twice that.
// Backward: given the same inputs (q, k, v, P, dout), every gradient is a polynomial evaluated by
// sums of at most HS + 2T + 4 terms deep, so each implementation is within (HS + 2T + 8) eps times
// the same computation done on absolute values (abs_backward below), and the two within twice that.
// ---------------------------------------------------------------------------------------------
namespace {

// The attention backward on absolute values, in double: the magnitude the rounding errors scale with.
std::vector<double> abs_backward(const std::vector<float>& qkvh, const std::vector<float>& att,
                                 const std::vector<float>& dout, int B, int T, int C, int NH) {
  const int HS = C / NH;
  const size_t n = static_cast<size_t>(B) * T * C;
  const double scale = 1.0 / std::sqrt(static_cast<double>(HS));
  std::vector<double> dqkv(3 * n, 0.0);
  std::vector<double> dp(T);
  for (int b = 0; b < B; ++b) {
    for (int h = 0; h < NH; ++h) {
      const size_t bh = static_cast<size_t>(b) * NH + h;
      auto Q = [&](int t, int i) { return std::fabs(qkvh[(bh * T + t) * HS + i]); };
      auto K = [&](int t, int i) { return std::fabs(qkvh[n + (bh * T + t) * HS + i]); };
      auto V = [&](int t, int i) { return std::fabs(qkvh[2 * n + (bh * T + t) * HS + i]); };
      auto dO = [&](int t, int i) {
        return std::fabs(dout[(static_cast<size_t>(b) * T + t) * C + h * HS + i]);
      };
      auto dX = [&](int w, int t, int i) -> double& {
        return dqkv[(static_cast<size_t>(b) * T + t) * 3 * C + w * C + h * HS + i];
      };
      for (int t = 0; t < T; ++t) {
        const float* p = att.data() + (bh * T + t) * T;
        double pdp = 0;
        for (int s = 0; s <= t; ++s) {
          dp[s] = 0;
          for (int i = 0; i < HS; ++i) {
            dp[s] += dO(t, i) * V(s, i);
            dX(2, s, i) += std::fabs(p[s]) * dO(t, i);
          }
          pdp += std::fabs(p[s]) * dp[s];
        }
        for (int s = 0; s <= t; ++s) {
          const double g = std::fabs(p[s]) * (dp[s] + pdp) * scale;
          for (int i = 0; i < HS; ++i) {
            dX(0, t, i) += g * K(s, i);
            dX(1, s, i) += g * Q(t, i);
          }
        }
      }
    }
  }
  return dqkv;
}

}  // namespace

TEST_CASE("fast multi-head attention matches the plain one", "[ch08][attention]") {
  struct Dims {
    int B, T, C, NH;
  };
  // T = 1, head sizes that are not multiples of 8, and GPT-2 124M's (HS = 64) at T = 64.
  const Dims dims[] = {{1, 1, 8, 2}, {2, 5, 12, 3}, {2, 17, 48, 4}, {1, 33, 40, 2}, {4, 64, 768, 12}};
  for (const Dims& d : dims) {
    const int HS = d.C / d.NH;
    const size_t n = static_cast<size_t>(d.B) * d.T * d.C,
                 n_att = static_cast<size_t>(d.B) * d.NH * d.T * d.T;
    const auto qkv = random_vector(3 * n, 40, -2.0f, 2.0f), dout = random_vector(n, 41);
    std::vector<float> out_ref(n), qkvh_ref(3 * n), att_ref(n_att);
    gpt2::multihead_attention_forward(out_ref.data(), qkvh_ref.data(), att_ref.data(), qkv.data(), d.B, d.T,
                                      d.C, d.NH);
    // Forward bound (see above), from the plain forward's own q, k, v and P.
    std::vector<double> fwd_bound(n);
    const double scale = 1.0 / std::sqrt(static_cast<double>(HS));
    for (int b = 0; b < d.B; ++b) {
      for (int h = 0; h < d.NH; ++h) {
        const size_t bh = static_cast<size_t>(b) * d.NH + h;
        const float* Q = qkvh_ref.data() + bh * d.T * HS;
        const float* K = Q + n;
        const float* V = Q + 2 * n;
        for (int t = 0; t < d.T; ++t) {
          double E = 0;
          for (int s = 0; s <= t; ++s) {
            double a = 0;
            for (int i = 0; i < HS; ++i) a += std::fabs(Q[t * HS + i] * K[s * HS + i]);
            E = std::max(E, (HS + 2) * kEps * scale * a);
          }
          for (int i = 0; i < HS; ++i) {
            double pv = 0;
            for (int s = 0; s <= t; ++s) pv += att_ref[(bh * d.T + t) * d.T + s] * std::fabs(V[s * HS + i]);
            fwd_bound[(static_cast<size_t>(b) * d.T + t) * d.C + h * HS + i] =
                2 * (2 * E + (2 * (t + 1) + 6) * kEps) * pv;
          }
        }
      }
    }
    const auto dqkv0 = random_vector(3 * n, 42);  // the backward adds into this
    std::vector<float> dqkv_ref = dqkv0;
    gpt2::multihead_attention_backward(dqkv_ref.data(), dout.data(), qkvh_ref.data(), att_ref.data(), d.B,
                                       d.T, d.C, d.NH);
    const auto mag = abs_backward(qkvh_ref, att_ref, dout, d.B, d.T, d.C, d.NH);
    std::vector<double> bwd_bound(3 * n);
    for (size_t i = 0; i < 3 * n; ++i) {
      bwd_bound[i] = 2 * (HS + 2 * d.T + 8) * kEps * mag[i] + 2 * kEps * std::fabs(dqkv_ref[i]);
    }

    for (gpt2::Simd level : levels()) {
      std::vector<float> out(n, NAN), qkvh(3 * n, NAN), att(n_att, NAN), dqkv = dqkv0;
      with(2, level, [&] {
        gpt2::multihead_attention_forward_fast(out.data(), qkvh.data(), att.data(), qkv.data(), d.B, d.T, d.C,
                                               d.NH);
        // The backward gets the plain forward's saved tensors, so that both backward passes see
        // the same inputs.
        gpt2::multihead_attention_backward_fast(dqkv.data(), dout.data(), qkvh_ref.data(), att_ref.data(),
                                                d.B, d.T, d.C, d.NH);
      });
      const std::string what =
          gpt2::cat(" B=", d.B, " T=", d.T, " C=", d.C, " NH=", d.NH, " ", gpt2::simd_name(level));
      CHECK(same_bits(qkvh, qkvh_ref));  // the split into heads is a copy
      // Weights: zero above the diagonal exactly, and rows summing to 1.
      bool causal_zeros = true;
      for (int bh = 0; bh < d.B * d.NH; ++bh) {
        for (int t = 0; t < d.T; ++t) {
          for (int s = t + 1; s < d.T; ++s)
            causal_zeros &= att[(static_cast<size_t>(bh) * d.T + t) * d.T + s] == 0.0f;
        }
      }
      CHECK(causal_zeros);
      auto r1 = within(out, out_ref, fwd_bound, "attention out" + what);
      auto r2 = within(dqkv, dqkv_ref, bwd_bound, "attention dqkv" + what);
      INFO(r1.message << "\n" << r2.message);
      CHECK(r1.ok);
      CHECK(r2.ok);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// LayerNorm. dweight and dbias are the plain loop's operations in the plain loop's order:
// identical bits (and so is everything on the portable path). The AVX2 forward sums the mean and
// variance in 8 lanes: the mean differs by at most 2 (C + 1) eps mean|x|, the variance (and so
// rstd, relatively) by 2 (C + 4) eps; through xhat = (x - m) rstd and y = xhat w + b the output
// differs by at most 2 (C + 4) eps |w| (|xhat| + rstd mean|x|) + 4 eps (|y| + |b|).
// The AVX2 backward sums mean(g) and mean(g xhat), g = dout w, in 8 lanes: they differ by at most
// 2 (C + 1) eps mean|g| and 2 (C + 1) eps mean|g xhat|; dx = rstd (g - mean(g) - xhat mean(g xhat))
// then differs by rstd (2 (C + 1) eps (mean|g| + |xhat| mean|g xhat|) + 4 eps (|g| + |mean(g)| +
// |xhat mean(g xhat)|)) + 2 eps |dx|.
// ---------------------------------------------------------------------------------------------
TEST_CASE("fast LayerNorm matches the plain one", "[ch08][layernorm]") {
  const std::pair<int, int> shapes[] = {{1, 1}, {1, 768}, {7, 5}, {3, 33}, {256, 768}, {64, 3072}};
  for (const auto& [N, C] : shapes) {
    const size_t nc = static_cast<size_t>(N) * C;
    const auto inp = random_vector(nc, 50, -3.0f, 5.0f), w = random_vector(C, 51), b = random_vector(C, 52);
    const auto dout = random_vector(nc, 53);
    const float eps = 1e-5f;
    std::vector<float> out_ref(nc), mean_ref(N), rstd_ref(N);
    gpt2::layernorm_forward(out_ref.data(), mean_ref.data(), rstd_ref.data(), inp.data(), w.data(), b.data(),
                            N, C, eps);
    std::vector<double> bound(nc);
    for (int r = 0; r < N; ++r) {
      double mean_abs = 0;
      for (int c = 0; c < C; ++c) mean_abs += std::fabs(inp[static_cast<size_t>(r) * C + c]) / C;
      for (int c = 0; c < C; ++c) {
        const size_t i = static_cast<size_t>(r) * C + c;
        const double xhat = (inp[i] - mean_ref[r]) * rstd_ref[r];
        bound[i] = 2 * (C + 4) * kEps * std::fabs(w[c]) * (std::fabs(xhat) + rstd_ref[r] * mean_abs) +
                   4 * kEps * (std::fabs(out_ref[i]) + std::fabs(b[c]));
      }
    }
    std::vector<float> dinp_ref = random_vector(nc, 54), dw_ref = random_vector(C, 55),
                       db_ref = random_vector(C, 56);
    const auto dinp0 = dinp_ref, dw0 = dw_ref, db0 = db_ref;
    gpt2::layernorm_backward(dinp_ref.data(), dw_ref.data(), db_ref.data(), dout.data(), inp.data(), w.data(),
                             mean_ref.data(), rstd_ref.data(), N, C);
    std::vector<double> dinp_bound(nc);
    for (int r = 0; r < N; ++r) {
      const size_t off = static_cast<size_t>(r) * C;
      double g_abs = 0, gx_abs = 0, g_mean = 0, gx_mean = 0;
      for (int c = 0; c < C; ++c) {
        const double xhat = (inp[off + c] - mean_ref[r]) * static_cast<double>(rstd_ref[r]);
        const double g = static_cast<double>(dout[off + c]) * w[c];
        g_abs += std::fabs(g) / C;
        gx_abs += std::fabs(g * xhat) / C;
        g_mean += g / C;
        gx_mean += g * xhat / C;
      }
      for (int c = 0; c < C; ++c) {
        const double xhat = (inp[off + c] - mean_ref[r]) * static_cast<double>(rstd_ref[r]);
        const double g = static_cast<double>(dout[off + c]) * w[c];
        dinp_bound[off + c] =
            rstd_ref[r] * (2 * (C + 1) * kEps * (g_abs + std::fabs(xhat) * gx_abs) +
                           4 * kEps * (std::fabs(g) + std::fabs(g_mean) + std::fabs(xhat * gx_mean))) +
            2 * kEps * std::fabs(dinp_ref[off + c]);
      }
    }
    for (gpt2::Simd level : levels()) {
      for (int threads : {1, 2}) {
        std::vector<float> out(nc), mean(N), rstd(N), dinp = dinp0, dw = dw0, db = db0;
        with(threads, level, [&] {
          gpt2::layernorm_forward_fast(out.data(), mean.data(), rstd.data(), inp.data(), w.data(), b.data(),
                                       N, C, eps);
          gpt2::layernorm_backward_fast(dinp.data(), dw.data(), db.data(), dout.data(), inp.data(), w.data(),
                                        mean_ref.data(), rstd_ref.data(), N, C);
        });
        auto r =
            within(out, out_ref, bound, gpt2::cat("layernorm N=", N, " C=", C, " ", gpt2::simd_name(level)));
        INFO(r.message << " threads=" << threads);
        CHECK(r.ok);
        if (level == gpt2::Simd::portable) CHECK(same_bits(out, out_ref));
        if (level == gpt2::Simd::portable) CHECK(same_bits(dinp, dinp_ref));
        auto rd = within(dinp, dinp_ref, dinp_bound, gpt2::cat("layernorm dinp N=", N, " C=", C));
        INFO(rd.message);
        CHECK(rd.ok);
        CHECK(same_bits(dw, dw_ref));
        CHECK(same_bits(db, db_ref));
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// GELU. The AVX2 tanh has an absolute error below 4 eps (exp within 2 ulp, then (1 - e) / (1 + e));
// std::tanh is within 1 ulp. y = 0.5 x (1 + tanh u) then differs by at most 2.5 eps |x| plus
// 6 eps |y| for the roundings of u and the products: we allow 8 eps (|x| + |y|).
// Backward: grad = 0.5 (1 + th) + 0.5 x (1 - th^2) du/dx with du/dx = k (1 + 3c x^2); the errors of
// th (4 eps) and of the products are bounded by 32 eps (1 + |x| du/dx) |dout|, plus 2 eps of the
// accumulated value.
// ---------------------------------------------------------------------------------------------
TEST_CASE("fast GELU matches the plain one", "[ch08][gelu]") {
  for (int n : {1, 7, 8, 9, 4097, 100003}) {
    const auto inp = random_vector(n, 60, -12.0f, 12.0f), dout = random_vector(n, 61);
    std::vector<float> out_ref(n), dinp_ref = random_vector(n, 62);
    const auto dinp0 = dinp_ref;
    gpt2::gelu_forward(out_ref.data(), inp.data(), n);
    gpt2::gelu_backward(dinp_ref.data(), inp.data(), dout.data(), n);
    std::vector<double> fb(n), bb(n);
    const double k = std::sqrt(2.0 / 3.141592653589793);
    for (int i = 0; i < n; ++i) {
      const double x = inp[i];
      fb[i] = 8 * kEps * (std::fabs(x) + std::fabs(out_ref[i]));
      bb[i] = 32 * kEps * (1 + std::fabs(x) * k * (1 + 3 * 0.044715 * x * x)) * std::fabs(dout[i]) +
              2 * kEps * std::fabs(dinp_ref[i]);
    }
    for (gpt2::Simd level : levels()) {
      std::vector<float> out[2], dinp[2];
      for (int threads : {1, 2}) {
        out[threads - 1].assign(n, NAN);
        dinp[threads - 1] = dinp0;
        with(threads, level, [&] {
          gpt2::gelu_forward_fast(out[threads - 1].data(), inp.data(), n);
          gpt2::gelu_backward_fast(dinp[threads - 1].data(), inp.data(), dout.data(), n);
        });
      }
      auto r1 = within(out[1], out_ref, fb, gpt2::cat("gelu n=", n, " ", gpt2::simd_name(level)));
      auto r2 = within(dinp[1], dinp_ref, bb, gpt2::cat("gelu backward n=", n, " ", gpt2::simd_name(level)));
      INFO(r1.message << "\n" << r2.message);
      CHECK(r1.ok);
      CHECK(r2.ok);
      CHECK(same_bits(out[0], out[1]));
      CHECK(same_bits(dinp[0], dinp[1]));
    }
  }
}

TEST_CASE("fast GELU is finite and saturates for large inputs", "[ch08][gelu]") {
  const std::vector<float> x = {-1e4f, -100.0f, -20.0f, 0.0f, 20.0f, 100.0f, 1e4f, -0.0f};
  std::vector<float> y(x.size()), dy(x.size(), 0.0f);
  const std::vector<float> ones(x.size(), 1.0f);
  gpt2::gelu_forward_fast(y.data(), x.data(), static_cast<int>(x.size()));
  gpt2::gelu_backward_fast(dy.data(), x.data(), ones.data(), static_cast<int>(x.size()));
  for (size_t i = 0; i < x.size(); ++i) {
    INFO("x = " << x[i] << " gelu = " << y[i] << " gelu' = " << dy[i]);
    CHECK(std::isfinite(y[i]));
    CHECK(std::isfinite(dy[i]));
    if (x[i] == 0.0f) {  // GELU(0) = 0, GELU'(0) = 0.5
      CHECK(y[i] == 0.0f);
      CHECK(dy[i] == 0.5f);
    } else {  // far out, 0.5 x (1 + tanh u) is exactly x or 0, and its slope 1 or 0
      CHECK(y[i] == (x[i] > 0 ? x[i] : 0.0f));
      CHECK(dy[i] == (x[i] > 0 ? 1.0f : 0.0f));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// AdamW: the same operations in the same order, no fused multiply-add: identical bits.
// ---------------------------------------------------------------------------------------------
TEST_CASE("fast AdamW gives exactly chapter 06's update", "[ch08][adamw]") {
  for (size_t n : {size_t{1}, size_t{13}, size_t{1000}, size_t{300007}}) {
    const auto grad = random_vector(n, 70);
    std::vector<float> p_ref = random_vector(n, 71), m_ref = random_vector(n, 72, -0.1f, 0.1f);
    std::vector<float> v_ref = random_vector(n, 73, 0.0f, 0.01f);
    const auto p0 = p_ref, m0 = m_ref, v0 = v_ref;
    for (int64_t step : {int64_t{1}, int64_t{7}}) {
      p_ref = p0, m_ref = m0, v_ref = v0;
      gpt2::adamw_update(p_ref.data(), grad.data(), m_ref.data(), v_ref.data(), n, step, 6e-4f, 0.9f, 0.95f,
                         1e-8f, 0.1f);
      for (gpt2::Simd level : levels()) {
        for (int threads : {1, 2}) {
          std::vector<float> p = p0, m = m0, v = v0;
          with(threads, level, [&] {
            gpt2::adamw_update_fast(p.data(), grad.data(), m.data(), v.data(), n, step, 6e-4f, 0.9f, 0.95f,
                                    1e-8f, 0.1f);
          });
          INFO("n=" << n << " step=" << step << " " << gpt2::simd_name(level) << " threads=" << threads);
          CHECK(same_bits(p, p_ref));
          CHECK(same_bits(m, m_ref));
          CHECK(same_bits(v, v_ref));
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Attention's building blocks: the batched versions do each row's (element's) operations in the
// order of the one-at-a-time calls, so they must give identical bits.
// ---------------------------------------------------------------------------------------------
TEST_CASE("dots() gives each row dot()'s bits; add_weighted_rows_strided() those of n axpy()'s",
          "[ch08][attention]") {
  for (gpt2::Simd level : levels()) {
    for (int len : {1, 7, 8, 13, 16, 17, 32, 64, 100, 200}) {
      for (int n : {1, 3, 4, 5, 9}) {
        const size_t row_stride = static_cast<size_t>(len) + 3, w_stride = 2;
        const auto x = random_vector(len, 90), rows = random_vector(n * row_stride, 91);
        const auto w = random_vector(n * w_stride, 92), y0 = random_vector(len, 93);
        std::vector<float> out(n), out_ref(n), y = y0, y_ref = y0;
        with(1, level, [&] {
          std::vector<float> packed(static_cast<size_t>(n) * len);  // dots() wants rows next to each other
          for (int s = 0; s < n; ++s)
            std::copy_n(rows.begin() + s * row_stride, len, packed.begin() + s * len);
          gpt2::dots(out.data(), x.data(), packed.data(), n, len);
          for (int s = 0; s < n; ++s) out_ref[s] = gpt2::dot(x.data(), packed.data() + s * len, len);
          gpt2::add_weighted_rows_strided(y.data(), w.data(), w_stride, rows.data(), row_stride, n, len);
          for (int s = 0; s < n; ++s)
            gpt2::axpy(y_ref.data(), w[s * w_stride], rows.data() + s * row_stride, len);
        });
        INFO(gpt2::simd_name(level) << " len=" << len << " n=" << n);
        CHECK(same_bits(out, out_ref));
        CHECK(same_bits(y, y_ref));
      }
    }
  }
}

TEST_CASE("column_sums_add() sums each column down the rows, as the plain loop", "[ch08][matmul]") {
  for (int N : {1, 13, 64, 300, 769}) {
    const int M = 150;  // with N = 769, enough work for two threads
    const auto dout = random_vector(static_cast<size_t>(M) * N, 97), db0 = random_vector(N, 98);
    std::vector<float> ref = db0;
    for (int i = 0; i < M; ++i) {
      for (int o = 0; o < N; ++o) ref[o] += dout[static_cast<size_t>(i) * N + o];
    }
    for (gpt2::Simd level : levels()) {
      for (int threads : {1, 2}) {
        std::vector<float> db = db0;
        with(threads, level, [&] { gpt2::column_sums_add(db.data(), dout.data(), M, N); });
        INFO("N=" << N << " " << gpt2::simd_name(level) << " threads=" << threads);
        CHECK(same_bits(db, ref));
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Dropout: the masks are integers (exact on every kernel set) and the multiply and add are the
// plain loop's: identical bits to chapter 05's loops, including -0 and NaN left alone where an
// element is dropped.
// ---------------------------------------------------------------------------------------------
TEST_CASE("fast dropout gives exactly chapter 05's masks and values", "[ch08][dropout]") {
  const uint64_t key = gpt2::dropout_key(1337, 5, 2);
  for (int64_t n : {int64_t{1}, int64_t{7}, int64_t{8}, int64_t{9}, int64_t{1001}, int64_t{70001}}) {
    const auto inp = random_vector(n, 94), dout = random_vector(n, 95);
    std::vector<float> dinp0 = random_vector(n, 96);
    for (int64_t i = 0; i < n; i += 5) dinp0[i] = -0.0f;
    if (n > 3) dinp0[3] = NAN;
    for (float p : {0.1f, 0.5f, 0.9f}) {
      std::vector<float> out_ref(n), dinp_ref = dinp0;
      gpt2::dropout_forward(out_ref.data(), inp.data(), n, p, key);
      gpt2::dropout_backward(dinp_ref.data(), dout.data(), n, p, key);
      for (gpt2::Simd level : levels()) {
        for (int threads : {1, 2}) {
          std::vector<float> out(n), in_place = inp, dinp = dinp0;
          with(threads, level, [&] {
            gpt2::dropout_forward_fast(out.data(), inp.data(), n, p, key);
            gpt2::dropout_forward_fast(in_place.data(), in_place.data(), n, p, key);
            gpt2::dropout_backward_fast(dinp.data(), dout.data(), n, p, key);
          });
          INFO("n=" << n << " p=" << p << " " << gpt2::simd_name(level) << " threads=" << threads);
          CHECK(same_bits(out, out_ref));
          CHECK(same_bits(in_place, out_ref));
          CHECK(same_bits(dinp, dinp_ref));
        }
      }
    }
  }
}

TEST_CASE("fast attention gives the same bits with 1 and 2 threads", "[ch08][attention][determinism]") {
  const int B = 2, T = 20, C = 48, NH = 4;
  const size_t n = static_cast<size_t>(B) * T * C, n_att = static_cast<size_t>(B) * NH * T * T;
  const auto qkv = random_vector(3 * n, 80), dout = random_vector(n, 81);
  for (gpt2::Simd level : levels()) {
    std::vector<float> out[2], qkvh[2], att[2], dqkv[2];
    for (int threads : {1, 2}) {
      const int i = threads - 1;
      out[i].assign(n, 0.0f);
      qkvh[i].assign(3 * n, 0.0f);
      att[i].assign(n_att, 0.0f);
      dqkv[i].assign(3 * n, 0.0f);
      with(threads, level, [&] {
        gpt2::multihead_attention_forward_fast(out[i].data(), qkvh[i].data(), att[i].data(), qkv.data(), B, T,
                                               C, NH);
        gpt2::multihead_attention_backward_fast(dqkv[i].data(), dout.data(), qkvh[i].data(), att[i].data(), B,
                                                T, C, NH);
      });
    }
    CHECK(same_bits(out[0], out[1]));
    CHECK(same_bits(att[0], att[1]));
    CHECK(same_bits(dqkv[0], dqkv[1]));
  }
}

TEST_CASE("sum_deterministic: chunk order, the same bits with 1 and 2 threads", "[ch08][determinism]") {
  for (size_t n : {size_t{0}, size_t{1}, gpt2::kSumChunk, gpt2::kSumChunk + 1, size_t{1000003}}) {
    const auto x = random_vector(n, 110);
    // The order reduce.h promises, written out: each chunk left to right, then the chunks in order.
    float expected = 0.0f;
    for (size_t i0 = 0; i0 < n; i0 += gpt2::kSumChunk) {
      float s = 0.0f;
      for (size_t i = i0; i < std::min(n, i0 + gpt2::kSumChunk); ++i) s += x[i];
      expected += s;
    }
    for (int threads : {1, 2}) {
      float got = NAN;
      with(threads, gpt2::Simd::avx2_fma, [&] { got = gpt2::sum_deterministic(x.data(), n); });
      INFO("n = " << n << " threads = " << threads);
      CHECK(std::memcmp(&got, &expected, sizeof(float)) == 0);
    }
  }
}

TEST_CASE("sum_squares_chunks_fast: each chunk in index order, the bits of chapter 06",
          "[ch08][determinism]") {
  constexpr size_t K = gpt2::kNormChunk;
  // Values over 12 orders of magnitude, so that adding in another order changes the last bits.
  for (size_t n : {size_t{0}, size_t{1}, K, 8 * K, 17 * K + 12345}) {
    auto x = random_vector(n, 120);
    for (size_t i = 0; i < n; ++i) x[i] *= std::ldexp(1.0f, static_cast<int>(i * 7919 % 40) - 20);
    const size_t chunks = (n + K - 1) / K;
    std::vector<double> expected(chunks), plain(chunks);
    for (size_t c = 0; c < chunks; ++c) {
      double s = 0.0;
      for (size_t i = c * K; i < std::min(n, (c + 1) * K); ++i) s += static_cast<double>(x[i]) * x[i];
      expected[c] = s;
    }
    // Bit for bit (memcmp is not called on the empty vectors' null data, n = 0).
    auto same = [&](const std::vector<double>& a) {
      return chunks == 0 || std::memcmp(a.data(), expected.data(), chunks * sizeof(double)) == 0;
    };
    gpt2::sum_squares_chunks(x.data(), n, plain.data());
    CHECK(same(plain));
    for (gpt2::Simd level : levels()) {
      for (int threads : {1, 2}) {
        std::vector<double> got(chunks, NAN);
        with(threads, level, [&] { gpt2::sum_squares_chunks_fast(x.data(), n, got.data()); });
        INFO("n = " << n << " threads = " << threads << " " << gpt2::simd_name(level));
        CHECK(same(got));
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The kernel-set switch itself.
// ---------------------------------------------------------------------------------------------
TEST_CASE("GPT2_SIMD names a kernel set; anything else is one clear error", "[ch08][simd]") {
  CHECK(gpt2::parse_simd("portable", "GPT2_SIMD") == gpt2::Simd::portable);
  CHECK(gpt2::parse_simd("avx2", "GPT2_SIMD") == gpt2::Simd::avx2_fma);
  CHECK(gpt2::parse_simd("avx512", "GPT2_SIMD") == gpt2::Simd::avx512);
  CHECK_THROWS_WITH(gpt2::parse_simd("sse9", "GPT2_SIMD"), Catch::Contains("GPT2_SIMD") &&
                                                               Catch::Contains("unknown kernel set 'sse9'") &&
                                                               Catch::Contains("portable, avx2 or avx512"));
}

TEST_CASE("set_simd never selects more than the CPU has", "[ch08][simd]") {
  for (gpt2::Simd level : {gpt2::Simd::portable, gpt2::Simd::avx2_fma, gpt2::Simd::avx512}) {
    with(1, level, [&] {
      INFO("asked for " << gpt2::simd_name(level) << ", CPU has " << gpt2::simd_name(gpt2::detected_simd()));
      CHECK(static_cast<int>(gpt2::active_simd()) <= static_cast<int>(gpt2::detected_simd()));
      CHECK(static_cast<int>(gpt2::active_simd()) <= static_cast<int>(level));
    });
  }
}

// What does not change from AVX2 to AVX-512: an element-wise kernel does the same operations on
// every lane, so GELU (and the exp inside it) gives AVX2's bits, except for the last n mod 8
// elements, which AVX2 hands to the scalar std::tanh. And the matrix product: each element of C
// is the same chain of fused multiply-adds over k in both micro-kernels (a wider tile changes who
// computes an element, not how), so the bits agree too.
TEST_CASE("AVX-512 gives the AVX2 bits for GELU and the packed matrix product", "[ch08][simd]") {
  if (!ch08_test::testing_avx512()) return;  // this run checks the AVX-512 set only
  const int n = 4096 + 8;
  const auto x = random_vector(n, 120, -10.0f, 10.0f), dy = random_vector(n, 121);
  std::vector<float> y2(n), y5(n), d2(n, 0.0f), d5(n, 0.0f);
  with(1, gpt2::Simd::avx2_fma, [&] {
    gpt2::gelu_forward_fast(y2.data(), x.data(), n);
    gpt2::gelu_backward_fast(d2.data(), x.data(), dy.data(), n);
  });
  with(1, gpt2::Simd::avx512, [&] {
    gpt2::gelu_forward_fast(y5.data(), x.data(), n);
    gpt2::gelu_backward_fast(d5.data(), x.data(), dy.data(), n);
  });
  CHECK(same_bits(y2, y5));
  CHECK(same_bits(d2, d5));

  const int M = 37, K = 600, N = 1000;  // edge tiles in both directions, three K blocks
  const auto a = random_vector(static_cast<size_t>(M) * K, 122),
             b = random_vector(static_cast<size_t>(K) * N, 123);
  const auto bias = random_vector(N, 124);
  std::vector<float> c2(static_cast<size_t>(M) * N), c5(c2.size());
  for (auto [level, c] : {std::pair{gpt2::Simd::avx2_fma, &c2}, std::pair{gpt2::Simd::avx512, &c5}}) {
    with(2, level, [&] {
      gpt2::gemm(M, N, K, gpt2::MatRef{a.data(), K, false}, gpt2::MatRef{b.data(), N, false}, c->data(), N,
                 false, bias.data());
    });
  }
  CHECK(same_bits(c2, c5));
}
