// Tests of chapter 03: softmax and scaled dot-product attention against PyTorch (fixture written by
// tests/reference/03_attention.py), against finite differences in double precision, and against
// properties that must hold exactly (rows sum to one, the causal mask hides the future).
#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "chapters/03_attention/attention.h"
#include "chapters/03_attention/softmax.h"
#include "common/rng.h"
#include "common/safetensors.h"
#include "common/testing.h"
#include "tests/catch.h"

namespace {

gpt2::SafetensorsFile fixture() {
  return gpt2::SafetensorsFile::open(gpt2::fixture_dir() + "/03_attention.safetensors");
}

std::vector<double> random_vector(size_t n, gpt2::Rng& rng) {
  std::vector<double> v(n);
  for (double& x : v) x = rng.normal();
  return v;
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  return std::inner_product(a.begin(), a.end(), b.begin(), 0.0);
}

// Gradient checks use L = sum(out * w) for a fixed random w (so dL/dout = w) and central
// differences with eps = 1e-6 in double: truncation error ~ eps^2 * |f'''| ~ 1e-12 and rounding
// error ~ 1e-16 * |L| / eps ~ 1e-10 for these O(1) values, so 1e-7 (scaled by max(1, |g|)) is a
// bound with three orders of margin that still fails on any wrong term.
constexpr double kGradTol = 1e-7;
constexpr double kEps = 1e-6;

}  // namespace

// Tolerances for the PyTorch comparison (the course's metric, max |ours - ref| / max |ref|): the
// reference is float64 rounded to float32; our float32 results carry the rounding of sums of at
// most T * HS = 144 products and of exp, a few 1e-7 relative to the largest value: 1e-5 for
// outputs and 1e-4 for gradients (which go through one more sum and a difference) hold with margin.
TEST_CASE("softmax matches PyTorch, including rows of +-1000", "[attention][parity]") {
  auto f = fixture();
  const auto& shape = f.info("softmax.inp").shape;
  const int rows = static_cast<int>(shape[0]), n = static_cast<int>(shape[1]);
  std::vector<float> inp = f.get_vector("softmax.inp"), dout = f.get_vector("softmax.dout");
  std::vector<float> out(inp.size()), dinp(inp.size(), 0.0f);
  gpt2::softmax_forward(out.data(), inp.data(), rows, n);
  auto r = gpt2::rel_close(out, f.get_vector("softmax.out"), 1e-5, "softmax out");
  INFO(r.message);
  CHECK(r.ok);
  gpt2::softmax_backward(dinp.data(), dout.data(), out.data(), rows, n);
  auto rd = gpt2::rel_close(dinp, f.get_vector("softmax.dinp"), 1e-4, "softmax dinp");
  INFO(rd.message);
  CHECK(rd.ok);
}

TEST_CASE("softmax: rows sum to one, in place works, no overflow", "[attention]") {
  std::vector<float> x = {1000.0f, 999.0f, -5.0f, 88.0f, 89.0f, 90.0f};
  std::vector<float> y(x.size());
  gpt2::softmax_forward(y.data(), x.data(), 2, 3);
  for (int r = 0; r < 2; ++r) CHECK(y[r * 3] + y[r * 3 + 1] + y[r * 3 + 2] == Approx(1.0f));
  // softmax(1000, 999, -5): exp(-1) / (1 + exp(-1)) for the second entry; the third underflows to ~0.
  CHECK(y[1] == Approx(std::exp(-1.0) / (1.0 + std::exp(-1.0))));
  gpt2::softmax_forward(x.data(), x.data(), 2, 3);  // in place
  CHECK(x == y);
  float one = 3.0f;
  gpt2::softmax_forward(&one, &one, 1, 1);  // a single element is always 1
  CHECK(one == 1.0f);
}

TEST_CASE("softmax backward matches finite differences (double)", "[attention][gradcheck]") {
  const int rows = 3, n = 7;
  gpt2::Rng rng(7);
  std::vector<double> x = random_vector(rows * n, rng), w = random_vector(rows * n, rng);
  auto loss = [&]() {
    std::vector<double> y(x.size());
    gpt2::softmax_forward(y.data(), x.data(), rows, n);
    return dot(y, w);
  };
  std::vector<double> y(x.size()), dx(x.size(), 0.0);
  gpt2::softmax_forward(y.data(), x.data(), rows, n);
  gpt2::softmax_backward(dx.data(), w.data(), y.data(), rows, n);
  auto num = gpt2::numeric_gradient<double>(loss, x, kEps);
  CHECK(gpt2::max_scaled_error<double>(dx, num) < kGradTol);
}

TEST_CASE("attention forward and backward match PyTorch", "[attention][parity]") {
  auto f = fixture();
  for (std::string name :
       {"b2h3t5d7_causal", "b2h3t5d7_full", "b1h1t1d5_causal", "b1h2t9d16_causal", "b3h1t4d3_causal"}) {
    SECTION(name) {
      const auto& s = f.info(name + ".q").shape;  // (B, NH, T, HS)
      const int B = static_cast<int>(s[0]), NH = static_cast<int>(s[1]), T = static_cast<int>(s[2]),
                HS = static_cast<int>(s[3]);
      const bool causal = name.ends_with("_causal");
      std::vector<float> q = f.get_vector(name + ".q"), k = f.get_vector(name + ".k"),
                         v = f.get_vector(name + ".v");
      std::vector<float> dout = f.get_vector(name + ".dout");
      std::vector<float> out(q.size()), att(static_cast<size_t>(B) * NH * T * T);
      gpt2::attention_forward(out.data(), att.data(), q.data(), k.data(), v.data(), B, NH, T, HS, causal);
      auto ro = gpt2::rel_close(out, f.get_vector(name + ".out"), 1e-5, "out");
      INFO(ro.message);
      CHECK(ro.ok);
      auto ra = gpt2::rel_close(att, f.get_vector(name + ".att"), 1e-5, "att");
      INFO(ra.message);
      CHECK(ra.ok);

      std::vector<float> dq(q.size(), 0.0f), dk(k.size(), 0.0f), dv(v.size(), 0.0f);
      gpt2::attention_backward(dq.data(), dk.data(), dv.data(), dout.data(), q.data(), k.data(), v.data(),
                               att.data(), B, NH, T, HS, causal);
      for (auto [grad, key] : {std::pair{&dq, "dq"}, std::pair{&dk, "dk"}, std::pair{&dv, "dv"}}) {
        auto r = gpt2::rel_close(*grad, f.get_vector(name + "." + key), 1e-4, key);
        INFO(r.message);
        CHECK(r.ok);
      }
    }
  }
}

TEST_CASE("attention backward matches finite differences (double)", "[attention][gradcheck]") {
  struct Case {
    int B, NH, T, HS;
    bool causal;
  };
  for (Case c :
       {Case{2, 2, 4, 3, true}, Case{2, 2, 4, 3, false}, Case{1, 1, 1, 5, true}, Case{1, 3, 6, 9, true}}) {
    CAPTURE(c.B, c.NH, c.T, c.HS, c.causal);
    const size_t n = static_cast<size_t>(c.B) * c.NH * c.T * c.HS;
    gpt2::Rng rng(11);
    std::vector<double> q = random_vector(n, rng), k = random_vector(n, rng), v = random_vector(n, rng);
    std::vector<double> w = random_vector(n, rng);
    std::vector<double> att(static_cast<size_t>(c.B) * c.NH * c.T * c.T);
    auto loss = [&]() {
      std::vector<double> out(n), a(att.size());
      gpt2::attention_forward(out.data(), a.data(), q.data(), k.data(), v.data(), c.B, c.NH, c.T, c.HS,
                              c.causal);
      return dot(out, w);
    };
    std::vector<double> out(n), dq(n, 0.0), dk(n, 0.0), dv(n, 0.0);
    gpt2::attention_forward(out.data(), att.data(), q.data(), k.data(), v.data(), c.B, c.NH, c.T, c.HS,
                            c.causal);
    gpt2::attention_backward(dq.data(), dk.data(), dv.data(), w.data(), q.data(), k.data(), v.data(),
                             att.data(), c.B, c.NH, c.T, c.HS, c.causal);
    CHECK(gpt2::max_scaled_error<double>(dq, gpt2::numeric_gradient<double>(loss, q, kEps)) < kGradTol);
    CHECK(gpt2::max_scaled_error<double>(dk, gpt2::numeric_gradient<double>(loss, k, kEps)) < kGradTol);
    CHECK(gpt2::max_scaled_error<double>(dv, gpt2::numeric_gradient<double>(loss, v, kEps)) < kGradTol);
  }
}

TEST_CASE("causal attention cannot see the future", "[attention]") {
  const int B = 1, NH = 2, T = 6, HS = 4;
  const size_t n = static_cast<size_t>(B) * NH * T * HS;
  gpt2::Rng rng(5);
  std::vector<double> q = random_vector(n, rng), k = random_vector(n, rng), v = random_vector(n, rng);
  std::vector<double> out(n), att(B * NH * T * T);
  gpt2::attention_forward(out.data(), att.data(), q.data(), k.data(), v.data(), B, NH, T, HS, true);
  for (int h = 0; h < NH; ++h) {
    const double* P = att.data() + h * T * T;
    CHECK(P[0] == 1.0);  // position 0 sees only itself
    for (int t = 0; t < T; ++t) {
      double row = 0;
      for (int s = 0; s < T; ++s) {
        if (s > t) CHECK(P[t * T + s] == 0.0);  // exactly zero above the diagonal
        row += P[t * T + s];
      }
      CHECK(row == Approx(1.0));
    }
  }
  // Changing the keys and values of the last position leaves every earlier output unchanged.
  for (int h = 0; h < NH; ++h)
    for (int i = 0; i < HS; ++i) {
      k[(h * T + T - 1) * HS + i] += 3.0;
      v[(h * T + T - 1) * HS + i] -= 2.0;
    }
  std::vector<double> out2(n), att2(att.size());
  gpt2::attention_forward(out2.data(), att2.data(), q.data(), k.data(), v.data(), B, NH, T, HS, true);
  for (int h = 0; h < NH; ++h)
    for (int t = 0; t < T - 1; ++t)
      for (int i = 0; i < HS; ++i) CHECK(out2[(h * T + t) * HS + i] == out[(h * T + t) * HS + i]);
}

TEST_CASE("attention backward adds into the gradient buffers", "[attention]") {
  const int B = 1, NH = 1, T = 3, HS = 2;
  const size_t n = T * HS;
  gpt2::Rng rng(9);
  std::vector<double> q = random_vector(n, rng), k = random_vector(n, rng), v = random_vector(n, rng);
  std::vector<double> dout = random_vector(n, rng), out(n), att(T * T);
  gpt2::attention_forward(out.data(), att.data(), q.data(), k.data(), v.data(), B, NH, T, HS, true);
  std::vector<double> dq(n, 0.0), dk(n, 0.0), dv(n, 0.0);
  gpt2::attention_backward(dq.data(), dk.data(), dv.data(), dout.data(), q.data(), k.data(), v.data(),
                           att.data(), B, NH, T, HS, true);
  std::vector<double> dq2(n, 1.0), dk2(n, 1.0), dv2(n, 1.0);
  gpt2::attention_backward(dq2.data(), dk2.data(), dv2.data(), dout.data(), q.data(), k.data(), v.data(),
                           att.data(), B, NH, T, HS, true);
  for (size_t i = 0; i < n; ++i) {
    CHECK(dq2[i] == Approx(1.0 + dq[i]));
    CHECK(dk2[i] == Approx(1.0 + dk[i]));
    CHECK(dv2[i] == Approx(1.0 + dv[i]));
  }
}

TEST_CASE("attention with dropout on its weights: D = keep P / (1 - p), finite differences, adds",
          "[attention][gradcheck][dropout]") {
  const int B = 2, NH = 2, T = 5, HS = 3;
  const double p = 0.3;
  const size_t n = static_cast<size_t>(B) * NH * T * HS, na = static_cast<size_t>(B) * NH * T * T;
  gpt2::Rng rng(21);
  std::vector<double> q = random_vector(n, rng), k = random_vector(n, rng), v = random_vector(n, rng);
  std::vector<double> w = random_vector(n, rng);
  std::vector<uint8_t> keep(na);
  for (uint8_t& m : keep) m = rng.uniform() >= p ? 1 : 0;
  // The output with the mask is the output of the dropped weights D applied to v, written out.
  std::vector<double> out(n), att(na);
  gpt2::attention_forward(out.data(), att.data(), q.data(), k.data(), v.data(), B, NH, T, HS, true,
                          keep.data(), p);
  double worst = 0;
  for (int bh = 0; bh < B * NH; ++bh)
    for (int t = 0; t < T; ++t)
      for (int i = 0; i < HS; ++i) {
        double y = 0;
        for (int s = 0; s < T; ++s) {
          const size_t a = (static_cast<size_t>(bh) * T + t) * T + s;
          y += (keep[a] ? att[a] / (1 - p) : 0.0) * v[(static_cast<size_t>(bh) * T + s) * HS + i];
        }
        worst = std::fmax(worst, std::fabs(y - out[(static_cast<size_t>(bh) * T + t) * HS + i]));
      }
  CHECK(worst < 1e-12);
  // att still holds the softmax P (rows sum to 1), not D.
  for (int r = 0; r < B * NH * T; ++r) {
    double row = 0;
    for (int s = 0; s < T; ++s) row += att[static_cast<size_t>(r) * T + s];
    CHECK(row == Approx(1.0));
  }
  auto loss = [&]() {
    std::vector<double> o(n), a(na);
    gpt2::attention_forward(o.data(), a.data(), q.data(), k.data(), v.data(), B, NH, T, HS, true, keep.data(),
                            p);
    return dot(o, w);
  };
  std::vector<double> dq(n, 0.0), dk(n, 0.0), dv(n, 0.0);
  gpt2::attention_backward(dq.data(), dk.data(), dv.data(), w.data(), q.data(), k.data(), v.data(),
                           att.data(), B, NH, T, HS, true, keep.data(), p);
  CHECK(gpt2::max_scaled_error<double>(dq, gpt2::numeric_gradient<double>(loss, q, kEps)) < kGradTol);
  CHECK(gpt2::max_scaled_error<double>(dk, gpt2::numeric_gradient<double>(loss, k, kEps)) < kGradTol);
  CHECK(gpt2::max_scaled_error<double>(dv, gpt2::numeric_gradient<double>(loss, v, kEps)) < kGradTol);
  // A second backward adds the same again.
  std::vector<double> dq2 = dq, dk2 = dk, dv2 = dv;
  gpt2::attention_backward(dq2.data(), dk2.data(), dv2.data(), w.data(), q.data(), k.data(), v.data(),
                           att.data(), B, NH, T, HS, true, keep.data(), p);
  for (size_t i = 0; i < n; ++i) {
    CHECK(dq2[i] == Approx(2 * dq[i]).margin(1e-12));
    CHECK(dk2[i] == Approx(2 * dk[i]).margin(1e-12));
    CHECK(dv2[i] == Approx(2 * dv[i]).margin(1e-12));
  }
}
