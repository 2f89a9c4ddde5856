// Tests of chapter 04's element-wise and per-row ops: linear, LayerNorm, GELU, residual. Each
// against PyTorch (tests/reference/04_transformer_block.py) and against finite differences.
#include <cmath>
#include <string>
#include <vector>

#include "chapters/04_transformer_block/gelu.h"
#include "chapters/04_transformer_block/layernorm.h"
#include "chapters/04_transformer_block/linear.h"
#include "chapters/04_transformer_block/residual.h"
#include "helpers.h"

using namespace ch04_test;

TEST_CASE("linear forward and backward match PyTorch", "[linear][parity]") {
  auto f = fixture();
  for (std::string name : {"linear_bias", "linear_nobias", "linear_bt1"}) {
    SECTION(name) {
      const int BT = dim(f, name + ".inp", 0), C = dim(f, name + ".inp", 1), OC = dim(f, name + ".weight", 1);
      const bool has_bias = f.contains(name + ".bias");
      std::vector<float> inp = f.get_vector(name + ".inp"), w = f.get_vector(name + ".weight");
      std::vector<float> b = has_bias ? f.get_vector(name + ".bias") : std::vector<float>{};
      std::vector<float> dout = f.get_vector(name + ".dout");
      std::vector<float> out(static_cast<size_t>(BT) * OC);
      gpt2::linear_forward(out.data(), inp.data(), w.data(), has_bias ? b.data() : nullptr, BT, C, OC);
      check_rel(out, f.get_vector(name + ".out"), kOutTol, "out");
      std::vector<float> dinp(inp.size(), 0.0f), dw(w.size(), 0.0f), db(b.size(), 0.0f);
      gpt2::linear_backward(dinp.data(), dw.data(), has_bias ? db.data() : nullptr, dout.data(), inp.data(),
                            w.data(), BT, C, OC);
      check_rel(dinp, f.get_vector(name + ".dinp"), kGradTol, "dinp");
      check_rel(dw, f.get_vector(name + ".dweight"), kGradTol, "dweight");
      if (has_bias) check_rel(db, f.get_vector(name + ".dbias"), kGradTol, "dbias");
    }
  }
}

TEST_CASE("linear backward matches finite differences (double)", "[linear][gradcheck]") {
  const int BT = 3, C = 4, OC = 5;
  gpt2::Rng rng(1);
  std::vector<double> inp = random_vector(BT * C, rng), w = random_vector(C * OC, rng),
                      b = random_vector(OC, rng);
  std::vector<double> dout = random_vector(BT * OC, rng);
  auto loss = [&]() {
    std::vector<double> out(BT * OC);
    gpt2::linear_forward(out.data(), inp.data(), w.data(), b.data(), BT, C, OC);
    return dot(out, dout);
  };
  std::vector<double> dinp(inp.size(), 0.0), dw(w.size(), 0.0), db(b.size(), 0.0);
  gpt2::linear_backward(dinp.data(), dw.data(), db.data(), dout.data(), inp.data(), w.data(), BT, C, OC);
  CHECK(gpt2::max_scaled_error<double>(dinp, gpt2::numeric_gradient<double>(loss, inp, kEps)) < kFdTol);
  CHECK(gpt2::max_scaled_error<double>(dw, gpt2::numeric_gradient<double>(loss, w, kEps)) < kFdTol);
  CHECK(gpt2::max_scaled_error<double>(db, gpt2::numeric_gradient<double>(loss, b, kEps)) < kFdTol);
  // Null gradient pointers skip that gradient; the rest still adds.
  std::vector<double> dw2(w.size(), 0.0);
  gpt2::linear_backward<double>(nullptr, dw2.data(), nullptr, dout.data(), inp.data(), w.data(), BT, C, OC);
  CHECK(dw2 == dw);
}

TEST_CASE("layernorm forward and backward match PyTorch", "[layernorm][parity]") {
  auto f = fixture();
  for (std::string name : {"layernorm", "layernorm_n1c3"}) {
    SECTION(name) {
      const int N = dim(f, name + ".inp", 0), C = dim(f, name + ".inp", 1);
      std::vector<float> inp = f.get_vector(name + ".inp"), w = f.get_vector(name + ".weight"),
                         b = f.get_vector(name + ".bias"), dout = f.get_vector(name + ".dout");
      std::vector<float> out(inp.size()), mean(N), rstd(N);
      gpt2::layernorm_forward(out.data(), mean.data(), rstd.data(), inp.data(), w.data(), b.data(), N, C,
                              static_cast<float>(gpt2::kGpt2LayerNormEps));
      check_rel(out, f.get_vector(name + ".out"), kOutTol, "out");
      check_rel(mean, f.get_vector(name + ".mean"), kOutTol, "mean");
      check_rel(rstd, f.get_vector(name + ".rstd"), kOutTol, "rstd");
      std::vector<float> dinp(inp.size(), 0.0f), dw(C, 0.0f), db(C, 0.0f);
      gpt2::layernorm_backward(dinp.data(), dw.data(), db.data(), dout.data(), inp.data(), w.data(),
                               mean.data(), rstd.data(), N, C);
      check_rel(dinp, f.get_vector(name + ".dinp"), kGradTol, "dinp");
      check_rel(dw, f.get_vector(name + ".dweight"), kGradTol, "dweight");
      check_rel(db, f.get_vector(name + ".dbias"), kGradTol, "dbias");
    }
  }
}

TEST_CASE("layernorm backward matches finite differences (double)", "[layernorm][gradcheck]") {
  const int N = 3, C = 5;
  gpt2::Rng rng(2);
  std::vector<double> inp = random_vector(N * C, rng, 2.0), w = random_vector(C, rng),
                      b = random_vector(C, rng);
  std::vector<double> dout = random_vector(N * C, rng);
  const double eps = gpt2::kGpt2LayerNormEps;
  auto loss = [&]() {
    std::vector<double> out(N * C), mean(N), rstd(N);
    gpt2::layernorm_forward(out.data(), mean.data(), rstd.data(), inp.data(), w.data(), b.data(), N, C, eps);
    return dot(out, dout);
  };
  std::vector<double> out(N * C), mean(N), rstd(N);
  gpt2::layernorm_forward(out.data(), mean.data(), rstd.data(), inp.data(), w.data(), b.data(), N, C, eps);
  std::vector<double> dinp(inp.size(), 0.0), dw(C, 0.0), db(C, 0.0);
  gpt2::layernorm_backward(dinp.data(), dw.data(), db.data(), dout.data(), inp.data(), w.data(), mean.data(),
                           rstd.data(), N, C);
  CHECK(gpt2::max_scaled_error<double>(dinp, gpt2::numeric_gradient<double>(loss, inp, kEps)) < kFdTol);
  CHECK(gpt2::max_scaled_error<double>(dw, gpt2::numeric_gradient<double>(loss, w, kEps)) < kFdTol);
  CHECK(gpt2::max_scaled_error<double>(db, gpt2::numeric_gradient<double>(loss, b, kEps)) < kFdTol);
  // The normalised rows have mean 0 and variance 1 (before weight and bias): check with w = 1, b = 0.
  std::vector<double> ones(C, 1.0), zeros(C, 0.0);
  gpt2::layernorm_forward(out.data(), mean.data(), rstd.data(), inp.data(), ones.data(), zeros.data(), N, C,
                          eps);
  for (int r = 0; r < N; ++r) {
    double m = 0, v = 0;
    for (int c = 0; c < C; ++c) m += out[r * C + c] / C;
    for (int c = 0; c < C; ++c) v += (out[r * C + c] - m) * (out[r * C + c] - m) / C;
    CHECK(m == Approx(0.0).margin(1e-12));
    CHECK(v == Approx(1.0).epsilon(1e-4));  // var / (var + eps), var ~ 4 here
  }
}

TEST_CASE("gelu forward and backward match PyTorch (tanh form)", "[gelu][parity]") {
  auto f = fixture();
  std::vector<float> inp = f.get_vector("gelu.inp"), dout = f.get_vector("gelu.dout");
  const int n = static_cast<int>(inp.size());
  std::vector<float> out(n), dinp(n, 0.0f);
  gpt2::gelu_forward(out.data(), inp.data(), n);
  check_rel(out, f.get_vector("gelu.out"), kOutTol, "out");
  gpt2::gelu_backward(dinp.data(), inp.data(), dout.data(), n);
  check_rel(dinp, f.get_vector("gelu.dinp"), kGradTol, "dinp");
}

TEST_CASE("gelu backward matches finite differences (double), known values", "[gelu][gradcheck]") {
  std::vector<double> x;
  for (int i = -40; i <= 40; ++i) x.push_back(i * 0.15 + 0.01);  // [-5.99, 6.01]
  x.push_back(-25.0);
  x.push_back(25.0);
  const int n = static_cast<int>(x.size());
  gpt2::Rng rng(3);
  std::vector<double> dout = random_vector(n, rng);
  auto loss = [&]() {
    std::vector<double> out(n);
    gpt2::gelu_forward(out.data(), x.data(), n);
    return dot(out, dout);
  };
  std::vector<double> dx(n, 0.0);
  gpt2::gelu_backward(dx.data(), x.data(), dout.data(), n);
  CHECK(gpt2::max_scaled_error<double>(dx, gpt2::numeric_gradient<double>(loss, x, kEps)) < kFdTol);
  // Known values: GELU(0) = 0 with slope 1/2; for large |x| it is ReLU (x or 0, slope 1 or 0).
  std::vector<double> pts = {0.0, 25.0, -25.0}, y(3), g(3, 0.0), ones(3, 1.0);
  gpt2::gelu_forward(y.data(), pts.data(), 3);
  gpt2::gelu_backward(g.data(), pts.data(), ones.data(), 3);
  CHECK(y[0] == 0.0);
  CHECK(g[0] == 0.5);
  CHECK(y[1] == 25.0);
  CHECK(g[1] == 1.0);
  CHECK(y[2] == Approx(0.0).margin(1e-300));
  CHECK(g[2] == Approx(0.0).margin(1e-300));
}

TEST_CASE("residual forward and backward match PyTorch", "[residual][parity]") {
  auto f = fixture();
  std::vector<float> a = f.get_vector("residual.a"), b = f.get_vector("residual.b"),
                     dout = f.get_vector("residual.dout");
  const int n = static_cast<int>(a.size());
  std::vector<float> out(n), da(n, 0.0f), db(n, 0.0f);
  gpt2::residual_forward(out.data(), a.data(), b.data(), n);
  check_rel(out, f.get_vector("residual.out"), kOutTol, "out");
  gpt2::residual_backward(da.data(), db.data(), dout.data(), n);
  check_rel(da, f.get_vector("residual.da"), kGradTol, "da");
  check_rel(db, f.get_vector("residual.db"), kGradTol, "db");
  // Finite differences in double (the function is linear: the check is exact up to rounding).
  gpt2::Rng rng(4);
  std::vector<double> x = random_vector(6, rng), y = random_vector(6, rng), w = random_vector(6, rng);
  auto loss = [&]() {
    std::vector<double> o(6);
    gpt2::residual_forward(o.data(), x.data(), y.data(), 6);
    return dot(o, w);
  };
  std::vector<double> dx(6, 0.0), dy(6, 0.0);
  gpt2::residual_backward(dx.data(), dy.data(), w.data(), 6);
  CHECK(gpt2::max_scaled_error<double>(dx, gpt2::numeric_gradient<double>(loss, x, kEps)) < kFdTol);
  CHECK(gpt2::max_scaled_error<double>(dy, gpt2::numeric_gradient<double>(loss, y, kEps)) < kFdTol);
}
