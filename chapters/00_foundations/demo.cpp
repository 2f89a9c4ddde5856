// ch00_demo: the foundations the later chapters stand on, each printed as it runs.
//
//   ch00_demo [folder]      (writes line_fit.svg and line_fit_loss.svg there; default: .)
//
// 1. a tensor's shape and strides, and views that share its memory;
// 2. fitting a line by gradient descent (and a learning rate that is too large);
// 3. the chain rule in reverse on a tiny graph, by hand and in code;
// 4. the same gradient checked a second way, by finite differences, for several step sizes.
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "chapters/00_foundations/line_fit.h"
#include "chapters/00_foundations/tiny_graph.h"
#include "common/plot.h"
#include "common/rng.h"
#include "common/tensor.h"
#include "common/testing.h"

namespace {

std::string shape_text(const gpt2::Shape& s) {
  return gpt2::shape_to_string(s);
}

void tensors() {
  std::printf("1. a tensor: floats in one block, a shape and strides\n");
  gpt2::Tensor x({2, 3, 4});
  for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = static_cast<float>(i);  // value = offset
  std::printf("  x: shape %s, strides %s; x[1, 2, 3] = %g (offset 1*12 + 2*4 + 3*1 = 23)\n",
              shape_text(x.shape()).c_str(), shape_text(x.strides()).c_str(), x.at({1, 2, 3}));
  gpt2::Tensor t = x.transpose(0, 2);
  std::printf("  x.transpose(0, 2): shape %s, strides %s, contiguous: %s, t[3, 2, 1] = %g (same element)\n",
              shape_text(t.shape()).c_str(), shape_text(t.strides()).c_str(),
              t.is_contiguous() ? "yes" : "no", t.at({3, 2, 1}));
  gpt2::Tensor row = x.select(1).select(2);
  std::printf("  x.select(1).select(2): shape %s, its first element %g; writing 100 into it ...\n",
              shape_text(row.shape()).c_str(), row.at({0}));
  row.at({0}) = 100;
  std::printf("  ... changes x[1, 2, 0] to %g: a view shares the memory\n\n", x.at({1, 2, 0}));
}

// Twenty points on y = 1.5 x plus noise.
void make_data(std::vector<double>& x, std::vector<double>& y) {
  gpt2::Rng rng(7);
  const int n = 20;
  for (int i = 0; i < n; ++i) {
    x.push_back(2.0 * i / (n - 1));
    y.push_back(1.5 * x.back() + 0.25 * rng.normal());
  }
}

void line_fit(const std::filesystem::path& folder) {
  std::printf("2. fitting y = w x by gradient descent on the mean squared error\n");
  std::vector<double> x, y;
  make_data(x, y);
  const double lr = 0.1;
  const std::vector<gpt2::DescentStep> run = gpt2::fit_line(x, y, 0.0, lr, 30);
  for (const auto& s : run) {
    if (s.step <= 5 || s.step % 10 == 0)
      std::printf("  step %2d: w = %.6f, loss %.6f\n", s.step, s.w, s.loss);
  }
  const double best = gpt2::best_line_slope(x, y);
  std::printf("  least squares: w* = %.6f, loss %.6f\n", best, gpt2::line_loss(best, x, y));
  double xx = 0;
  for (double v : x) xx += v * v / static_cast<double>(x.size());
  std::printf("  mean x^2 = %.4f, so every step shrinks w - w* by 1 - 2 lr mean(x^2) = %.4f;\n", xx,
              1 - 2 * lr * xx);
  std::printf("  any lr above 1 / mean(x^2) = %.4f diverges. With lr = 0.9:\n", 1 / xx);
  for (const auto& s : gpt2::fit_line(x, y, 0.0, 0.9, 5))
    std::printf("  step %d: w = %+.4f, loss %.4f\n", s.step, s.w, s.loss);

  // Pictures: the data with the line after a few steps, and the loss curve.
  gpt2::LinePlot fit;
  fit.title = "fitting y = w x: the line after 0, 1, 3 and 30 steps (lr 0.1)";
  fit.x_label = "x";
  fit.y_label = "y";
  fit.legend_left = true;
  fit.series.push_back({"data", x, y, "#444444", true});
  for (int step : {0, 1, 3, 30}) {
    const double w = run[static_cast<size_t>(step)].w;
    char name[64];
    std::snprintf(name, sizeof name, "step %d: w = %.2f", step, w);
    fit.series.push_back({name, {0.0, 2.0}, {0.0, 2.0 * w}, "", false});
  }
  gpt2::LinePlot loss;
  loss.title = "the loss falls as w approaches w*";
  loss.x_label = "step";
  loss.y_label = "mean squared error";
  gpt2::PlotSeries curve{"lr 0.1", {}, {}, "", false};
  for (const auto& s : run) {
    curve.x.push_back(s.step);
    curve.y.push_back(s.loss);
  }
  loss.series.push_back(curve);
  gpt2::write_svg(fit, folder / "line_fit.svg");
  gpt2::write_svg(loss, folder / "line_fit_loss.svg");
  std::printf("  pictures: %s, %s\n\n", (folder / "line_fit.svg").string().c_str(),
              (folder / "line_fit_loss.svg").string().c_str());
}

void chain_rule() {
  std::printf("3. reverse mode on c = a b, d = c + b, L = d^2 at a = 2, b = 3\n");
  const gpt2::TinyGraph g = gpt2::tiny_graph_forward(2.0, 3.0);
  std::printf("  forward:  c = %g, d = %g, L = %g\n", g.c, g.d, g.loss);
  double da = 0, db = 0;
  gpt2::tiny_graph_backward(da, db, g);
  const double dd = 2 * g.d, dc = dd;
  std::printf("  backward: dL/dd = 2d = %g, dL/dc = dL/dd = %g,\n", dd, dc);
  std::printf("            dL/da = dL/dc * b = %g, dL/db = dL/dd + dL/dc * a = %g + %g = %g\n", da, dd,
              dc * g.a, db);
  std::printf("  by hand:  L = b^2 (a + 1)^2, dL/da = 2 b^2 (a + 1) = 54, dL/db = 2 b (a + 1)^2 = 54\n\n");
}

void finite_differences() {
  std::printf("4. the same gradient a second way: central differences (L(a + eps) - L(a - eps)) / 2 eps\n");
  std::vector<double> ab = {2.0, 3.0};
  const std::function<double()> loss = [&]() { return gpt2::tiny_graph_forward(ab[0], ab[1]).loss; };
  const std::vector<double> numeric = gpt2::numeric_gradient<double>(loss, ab, 1e-6);
  std::printf("  eps = 1e-6: dL/da = %.9f, dL/db = %.9f (backward: 54, 54)\n", numeric[0], numeric[1]);

  std::printf("  how the error depends on eps, for f(x) = exp(x) at x = 0.5 (f' = exp(0.5)):\n");
  std::printf("       eps   error in double   error in float\n");
  std::vector<double> xd = {0.5};
  std::vector<float> xf = {0.5f};
  const std::function<double()> fd = [&]() { return std::exp(xd[0]); };
  const std::function<float()> ff = [&]() { return std::exp(xf[0]); };
  const double exact = std::exp(0.5);
  for (double eps : {1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-8, 1e-10}) {
    const double gd = gpt2::numeric_gradient<double>(fd, xd, eps)[0];
    const float gf = gpt2::numeric_gradient<float>(ff, xf, static_cast<float>(eps))[0];
    std::printf("  %8.0e  %15.2e  %15.2e\n", eps, std::fabs(gd - exact), std::fabs(gf - exact));
  }
  std::printf("  the error falls like eps^2 f'''/6 until rounding (about 1e-16 |f| / eps in double,\n");
  std::printf("  6e-8 |f| / eps in float) takes over: the course checks gradients in double, eps 1e-6.\n");
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::filesystem::path folder = argc > 1 ? argv[1] : ".";
    tensors();
    line_fit(folder);
    chain_rule();
    finite_differences();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ch00_demo: %s\n", e.what());
    return 1;
  }
}
