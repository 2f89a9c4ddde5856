// Chapter 05's own ops, checked by finite differences in double precision.
#include <cmath>
#include <vector>

#include "chapters/05_gpt2_model/cross_entropy.h"
#include "chapters/05_gpt2_model/lm_head.h"
#include "common/rng.h"
#include "common/testing.h"
#include "tests/catch.h"

namespace {
std::vector<double> randn(size_t n, gpt2::Rng& rng, double std = 1.0) {
  std::vector<double> v(n);
  for (double& x : v) x = rng.normal(0.0f, static_cast<float>(std));
  return v;
}
}  // namespace

TEST_CASE("05 cross_entropy: forward matches -log softmax, backward matches finite differences", "[ops]") {
  gpt2::Rng rng(7);
  const int N = 5, V = 11;
  std::vector<double> logits = randn(static_cast<size_t>(N) * V, rng, 3.0);
  logits[3] = 80.0;                              // a large logit: the max subtraction keeps exp finite
  std::vector<int> targets = {3, 0, 10, -1, 7};  // -1: ignored
  std::vector<double> losses(N), lse(N);
  gpt2::cross_entropy_forward(losses.data(), lse.data(), logits.data(), targets.data(), N, V);
  for (int i = 0; i < N; ++i) {
    // Direct definition, in long double.
    long double sum = 0;
    for (int v = 0; v < V; ++v)
      sum += std::exp(static_cast<long double>(logits[static_cast<size_t>(i * V + v)]));
    double expected =
        targets[i] < 0 ? 0.0
                       : static_cast<double>(std::log(sum) - logits[static_cast<size_t>(i * V + targets[i])]);
    CHECK(std::fabs(losses[static_cast<size_t>(i)] - expected) <= 1e-12 * (1 + std::fabs(expected)));
  }
  CHECK(losses[3] == 0.0);

  // The mean over the 4 positions with a target, and its gradient.
  auto mean_loss = [&] {
    std::vector<double> l(N), s(N);
    gpt2::cross_entropy_forward(l.data(), s.data(), logits.data(), targets.data(), N, V);
    return (l[0] + l[1] + l[2] + l[4]) / 4.0;
  };
  std::vector<double> dlogits(logits.size(), 0.5);  // backward adds: start from 0.5, subtract it below
  gpt2::cross_entropy_backward(dlogits.data(), logits.data(), lse.data(), targets.data(), 0.25, N, V);
  for (double& d : dlogits) d -= 0.5;
  std::vector<double> numeric = gpt2::numeric_gradient<double>(mean_loss, logits, 1e-6);
  CHECK(gpt2::max_scaled_error<double>(dlogits, numeric) < 1e-8);
  for (int v = 0; v < V; ++v) CHECK(dlogits[static_cast<size_t>(3 * V + v)] == 0.0);  // ignored row
}

TEST_CASE("05 lm_head: logits = x wte^T, gradients match finite differences", "[ops]") {
  gpt2::Rng rng(11);
  const int BT = 3, C = 4, V = 6;
  std::vector<double> x = randn(BT * C, rng), wte = randn(V * C, rng), g = randn(BT * V, rng);
  std::vector<double> logits(BT * V);
  gpt2::lm_head_forward(logits.data(), x.data(), wte.data(), BT, C, V);
  CHECK(std::fabs(logits[1 * V + 2] - (x[4] * wte[8] + x[5] * wte[9] + x[6] * wte[10] + x[7] * wte[11])) <
        1e-15);
  // A scalar function of the output: sum(logits * g), whose gradient is what backward computes.
  auto f = [&] {
    std::vector<double> out(BT * V);
    gpt2::lm_head_forward(out.data(), x.data(), wte.data(), BT, C, V);
    double s = 0;
    for (size_t i = 0; i < out.size(); ++i) s += out[i] * g[i];
    return s;
  };
  std::vector<double> dx(x.size(), 0.0), dwte(wte.size(), 1.0);  // dwte starts at 1: backward adds
  gpt2::lm_head_backward(dx.data(), dwte.data(), g.data(), x.data(), wte.data(), BT, C, V);
  for (double& d : dwte) d -= 1.0;
  CHECK(gpt2::max_scaled_error<double>(dx, gpt2::numeric_gradient<double>(f, x, 1e-6)) < 1e-8);
  CHECK(gpt2::max_scaled_error<double>(dwte, gpt2::numeric_gradient<double>(f, wte, 1e-6)) < 1e-8);
}
