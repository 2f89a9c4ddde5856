// Tests of chapter 00: the loss's derivative against finite differences and against the exact
// minimiser, gradient descent's convergence and divergence, the tiny graph's gradients against
// the derivative worked out by hand, and that every backward adds.
#include <cmath>
#include <functional>
#include <vector>

#include "chapters/00_foundations/line_fit.h"
#include "chapters/00_foundations/tiny_graph.h"
#include "common/testing.h"
#include "tests/catch.h"

namespace {
const std::vector<double> kX = {0.0, 0.5, 1.0, 1.5, 2.0, -1.0};
const std::vector<double> kY = {0.1, 0.6, 1.6, 2.2, 3.1, -1.4};
}  // namespace

TEST_CASE("line_loss_backward matches finite differences and adds", "[foundations]") {
  for (double w : {-2.0, 0.0, 0.7, 3.0}) {
    std::vector<double> ws = {w};
    const std::function<double()> loss = [&]() { return gpt2::line_loss(ws[0], kX, kY); };
    const double numeric = gpt2::numeric_gradient<double>(loss, ws, 1e-6)[0];
    double dw = 0;
    gpt2::line_loss_backward(dw, w, kX, kY);
    CHECK(std::fabs(dw - numeric) < 1e-8 * std::fmax(1.0, std::fabs(numeric)));
    double start = 10.0;  // a gradient already there
    gpt2::line_loss_backward(start, w, kX, kY);
    CHECK(start == Approx(10.0 + dw).epsilon(1e-12));
  }
}

TEST_CASE("gradient descent reaches the least-squares slope; too large a rate diverges", "[foundations]") {
  const double best = gpt2::best_line_slope(kX, kY);
  double dw = 0;
  gpt2::line_loss_backward(dw, best, kX, kY);
  CHECK(std::fabs(dw) < 1e-12);  // the derivative vanishes at the minimum
  double xx = 0;
  for (double x : kX) xx += x * x / static_cast<double>(kX.size());
  // Stable for lr < 1 / mean(x^2): the distance to w* shrinks by |1 - 2 lr mean(x^2)| each step.
  const double lr = 0.3 / xx;
  auto run = gpt2::fit_line(kX, kY, -5.0, lr, 60);
  REQUIRE(run.size() == 61);
  CHECK(run.front().w == -5.0);
  CHECK(run.back().w == Approx(best).epsilon(1e-9));
  for (size_t i = 1; i < run.size(); ++i) CHECK(run[i].loss <= run[i - 1].loss * (1 + 1e-12));
  const double factor = 1 - 2 * lr * xx;
  CHECK((run[2].w - best) / (run[1].w - best) == Approx(factor).epsilon(1e-9));
  auto wild = gpt2::fit_line(kX, kY, 0.0, 1.2 / xx, 20);
  CHECK(wild.back().loss > 100 * wild.front().loss);
}

TEST_CASE("tiny graph: reverse mode gives the hand-worked derivatives", "[foundations]") {
  // L = (a b + b)^2 = b^2 (a + 1)^2: dL/da = 2 b^2 (a + 1), dL/db = 2 b (a + 1)^2.
  for (auto [a, b] : {std::pair{2.0, 3.0}, std::pair{-0.5, 1.25}, std::pair{0.0, -2.0}}) {
    const gpt2::TinyGraph g = gpt2::tiny_graph_forward(a, b);
    CHECK(g.loss == Approx(b * b * (a + 1) * (a + 1)));
    double da = 0, db = 0;
    gpt2::tiny_graph_backward(da, db, g);
    CHECK(da == Approx(2 * b * b * (a + 1)));
    CHECK(db == Approx(2 * b * (a + 1) * (a + 1)));
    std::vector<double> ab = {a, b};
    const std::function<double()> loss = [&]() { return gpt2::tiny_graph_forward(ab[0], ab[1]).loss; };
    const std::vector<double> numeric = gpt2::numeric_gradient<double>(loss, ab, 1e-6);
    const std::vector<double> ours = {da, db};
    CHECK(gpt2::max_scaled_error<double>(ours, numeric) < 1e-8);
  }
}

TEST_CASE("every backward adds into its gradients", "[foundations]") {
  double da = 1, db = 2;
  gpt2::mul_backward(da, db, 10, 3, 4);  // d(ab)/da = b = 4, d(ab)/db = a = 3
  CHECK(da == 41);
  CHECK(db == 32);
  gpt2::add_backward(da, db, 5);
  CHECK(da == 46);
  CHECK(db == 37);
  double dx = 7;
  gpt2::square_backward(dx, 2, 3);  // 7 + 2 * 2 * 3
  CHECK(dx == 19);
  // The whole graph twice gives twice the gradient (54 each, see the chapter), on top of what the
  // buffers held.
  const gpt2::TinyGraph g = gpt2::tiny_graph_forward(2, 3);
  double ga = 1, gb = -1;
  gpt2::tiny_graph_backward(ga, gb, g);
  CHECK(ga == 55);
  CHECK(gb == 53);
  gpt2::tiny_graph_backward(ga, gb, g);
  CHECK(ga == 109);
  CHECK(gb == 107);
}

TEST_CASE("central differences: the error falls like eps squared", "[foundations]") {
  // f(x) = exp(x) at x = 0.5: f' = f''' = exp(0.5); the central difference's error is
  // eps^2 / 6 f'''(x) + O(eps^4).
  std::vector<double> x = {0.5};
  const std::function<double()> f = [&]() { return std::exp(x[0]); };
  const double exact = std::exp(0.5);
  for (double eps : {1e-2, 1e-3}) {
    const double error = gpt2::numeric_gradient<double>(f, x, eps)[0] - exact;
    CHECK(error == Approx(eps * eps / 6 * exact).epsilon(1e-3));
  }
  CHECK(x[0] == 0.5);  // restored
}

TEST_CASE("line_loss rejects mismatched data", "[foundations]") {
  const std::vector<double> x = {1, 2}, y = {1};
  CHECK_THROWS_WITH(gpt2::line_loss(1.0, x, y), Catch::Contains("2 x values and 1 y values"));
}
