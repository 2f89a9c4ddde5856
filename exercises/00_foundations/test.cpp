// Tests of exercises 00, against known values, a tensor's own strides, closed-form solutions and
// finite differences (gpt2::numeric_gradient in double precision).
#include <cmath>
#include <functional>
#include <span>
#include <vector>

#include "common/tensor.h"
#include "common/testing.h"
#include "exercise.h"
#include "tests/catch.h"

namespace {
// |a - b| <= tol * max(1, |b|), with both numbers in the message.
void check_close(double a, double b, double tol, const char* what) {
  INFO(what << ": got " << a << ", expected " << b);
  CHECK(std::fabs(a - b) <= tol * std::fmax(1.0, std::fabs(b)));
}
}  // namespace

TEST_CASE("00.1 row_major_strides", "[exercise]") {
  CHECK(exercise::row_major_strides({2, 3, 4}) == gpt2::Shape{12, 4, 1});
  CHECK(exercise::row_major_strides({5}) == gpt2::Shape{1});
  CHECK(exercise::row_major_strides({7, 1, 3}) == gpt2::Shape{3, 3, 1});
  CHECK(exercise::row_major_strides({4, 0, 2}) == gpt2::Shape{0, 2, 1});
  CHECK(exercise::row_major_strides({}).empty());
  for (gpt2::Shape shape : {gpt2::Shape{2, 5, 3, 7}, gpt2::Shape{50257, 768}}) {
    CHECK(exercise::row_major_strides(shape) == gpt2::Tensor(shape).strides());
  }
}

TEST_CASE("00.2 element_offset agrees with the Tensor's own indexing", "[exercise]") {
  CHECK(exercise::element_offset({12, 4, 1}, {1, 2, 3}) == 23);
  CHECK(exercise::element_offset({}, {}) == 0);
  // A tensor whose element values are their own offsets, read through a transposed view
  // (strides that are not row-major).
  gpt2::Tensor t({3, 5});
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<float>(i);
  gpt2::Tensor tr = t.transpose(0, 1);
  for (int64_t r = 0; r < 5; ++r) {
    for (int64_t c = 0; c < 3; ++c) {
      CHECK(exercise::element_offset(tr.strides(), {r, c}) == static_cast<int64_t>(tr.at({r, c})));
    }
  }
}

TEST_CASE("00.3 line_loss_and_gradient matches finite differences and adds", "[exercise]") {
  const std::vector<double> x = {0.0, 0.5, 1.0, 1.5, 2.0, -1.0}, y = {0.3, 0.6, 1.6, 2.2, 3.1, -1.4};
  // One point by hand: w = 2, b = 1, (x, y) = (1, 2): error 1, L = 1, dL/dw = 2, dL/db = 2.
  {
    const std::vector<double> x1 = {1.0}, y1 = {2.0};
    double dw = 0, db = 0;
    check_close(exercise::line_loss_and_gradient(2, 1, x1, y1, dw, db), 1.0, 1e-12, "L at one point");
    check_close(dw, 2.0, 1e-12, "dL/dw at one point");
    check_close(db, 2.0, 1e-12, "dL/db at one point");
  }
  for (auto [w, b] : {std::pair{0.0, 0.0}, std::pair{1.5, -0.2}, std::pair{-2.0, 3.0}}) {
    std::vector<double> wb = {w, b};
    double ignore_w = 0, ignore_b = 0;
    const std::function<double()> loss = [&]() {
      return exercise::line_loss_and_gradient(wb[0], wb[1], x, y, ignore_w, ignore_b);
    };
    // The loss itself, against the formula.
    double expected_loss = 0;
    for (size_t i = 0; i < x.size(); ++i) expected_loss += std::pow(w * x[i] + b - y[i], 2) / 6;
    check_close(loss(), expected_loss, 1e-12, "L");
    const std::vector<double> numeric = gpt2::numeric_gradient<double>(loss, wb, 1e-6);
    double dw = 0.5, db = -0.25;  // gradients already there: the answer must be added to them
    exercise::line_loss_and_gradient(w, b, x, y, dw, db);
    check_close(dw - 0.5, numeric[0], 1e-7, "dL/dw (added to 0.5)");
    check_close(db + 0.25, numeric[1], 1e-7, "dL/db (added to -0.25)");
  }
}

TEST_CASE("00.4 gradient_descent follows the exact path on a quadratic bowl", "[exercise]") {
  // L(p) = 1/2 sum_i k_i (p_i - c_i)^2 has dL/dp_i = k_i (p_i - c_i), so one step multiplies
  // p_i - c_i by (1 - lr k_i): after n steps p_i = c_i + (1 - lr k_i)^n (p_i(0) - c_i).
  const std::vector<double> k = {1.0, 4.0, 0.5}, c = {3.0, -2.0, 1.0};
  int calls = 0;
  const auto add_gradient = [&](const std::vector<double>& p, std::vector<double>& g) {
    ++calls;
    for (size_t i = 0; i < p.size(); ++i) g[i] += k[i] * (p[i] - c[i]);  // adds, as a backward does
  };
  for (int steps : {1, 2, 25}) {
    std::vector<double> p = {0.0, 0.0, 5.0};
    calls = 0;
    const double lr = 0.1;
    exercise::gradient_descent(p, add_gradient, lr, steps);
    CHECK(calls == steps);
    REQUIRE(p.size() == 3);
    const double start[3] = {0.0, 0.0, 5.0};
    for (size_t i = 0; i < 3; ++i) {
      INFO("steps " << steps << ", parameter " << i);
      check_close(p[i], c[i] + std::pow(1 - lr * k[i], steps) * (start[i] - c[i]), 1e-12, "p");
    }
  }
}

TEST_CASE("00.5 residual_neuron_backward matches finite differences and adds", "[exercise]") {
  const auto loss = [](double x, double w, double b) {
    const double r = x + std::tanh(w * x + b);
    return r * r;
  };
  for (auto [x, w, b] :
       {std::tuple{0.5, -1.0, 0.25}, std::tuple{-2.0, 0.3, 1.0}, std::tuple{1.0, 2.0, -2.0}}) {
    std::vector<double> v = {x, w, b};
    const std::function<double()> f = [&]() { return loss(v[0], v[1], v[2]); };
    const std::vector<double> numeric = gpt2::numeric_gradient<double>(f, v, 1e-6);
    double dx = 1.0, dw = 2.0, db = 3.0;  // the answer must be added to these
    exercise::residual_neuron_backward(x, w, b, dx, dw, db);
    check_close(dx - 1.0, numeric[0], 1e-7, "dL/dx (added to 1)");
    check_close(dw - 2.0, numeric[1], 1e-7, "dL/dw (added to 2)");
    check_close(db - 3.0, numeric[2], 1e-7, "dL/db (added to 3)");
  }
}

TEST_CASE("00.6 central_differences is accurate to second order", "[exercise]") {
  // f(x) = sin(x0) exp(x1) + x2^3, with its gradient worked out by hand.
  const std::function<double(std::span<const double>)> f = [](std::span<const double> x) {
    return std::sin(x[0]) * std::exp(x[1]) + x[2] * x[2] * x[2];
  };
  const std::vector<double> x = {0.7, -0.3, 1.2};
  const std::vector<double> exact = {std::cos(x[0]) * std::exp(x[1]), std::sin(x[0]) * std::exp(x[1]),
                                     3 * x[2] * x[2]};
  const std::vector<double> g = exercise::central_differences(f, x, 1e-5);
  REQUIRE(g.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    INFO("coordinate " << i);
    check_close(g[i], exact[i], 1e-8, "eps 1e-5");
  }
  // With eps = 1e-3 a central difference is still within about eps^2 = 1e-6 of the truth; a
  // one-sided difference (f(x + eps) - f(x)) / eps would be off by about eps = 1e-3.
  const std::vector<double> coarse = exercise::central_differences(f, x, 1e-3);
  REQUIRE(coarse.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    INFO("coordinate " << i);
    check_close(coarse[i], exact[i], 1e-5, "eps 1e-3");
  }
  CHECK(x == std::vector<double>{0.7, -0.3, 1.2});
}
