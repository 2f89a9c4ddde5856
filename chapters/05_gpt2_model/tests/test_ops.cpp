// Chapter 05's own ops, checked by finite differences in double precision.
#include <algorithm>
#include <cmath>
#include <vector>

#include "chapters/05_gpt2_model/backend.h"
#include "chapters/05_gpt2_model/cross_entropy.h"
#include "chapters/05_gpt2_model/dropout.h"
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

TEST_CASE("05 cross_entropy: accurate in float for logits as large as GPT-2's", "[ops]") {
  // GPT-2 124M's logits lie around -100. A float near 100 has spacing 2^-17 = 7.6e-6, so a
  // log-sum-exp rounded there would put errors of that size into every probability; keeping the
  // maximum apart from the sum keeps them near float's epsilon (6e-8).
  gpt2::Rng rng(3);
  const int V = 1000;
  std::vector<float> z(V);
  for (float& x : z) x = -100.0f + 5.0f * rng.normal();
  int target = 17;
  std::vector<float> dz(V, 0.0f), loss(1), lse(1);
  gpt2::cross_entropy_forward(loss.data(), lse.data(), z.data(), &target, 1, V);
  gpt2::cross_entropy_backward(dz.data(), z.data(), lse.data(), &target, 1.0f, 1, V);
  long double m = *std::max_element(z.begin(), z.end()), sum = 0;
  for (float x : z) sum += std::exp(static_cast<long double>(x) - m);
  double ref_loss = static_cast<double>(m - z[target] + std::log(sum));
  CHECK(std::fabs(loss[0] - ref_loss) / ref_loss < 1e-6);
  double worst = 0;
  for (int v = 0; v < V; ++v) {
    double p = static_cast<double>(std::exp(static_cast<long double>(z[static_cast<size_t>(v)]) - m) / sum);
    double ref = p - (v == target ? 1.0 : 0.0);
    worst = std::max(worst, std::fabs(dz[static_cast<size_t>(v)] - ref));
  }
  CHECK(worst < 1e-6);
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

TEST_CASE("05 dropout with the mask drawn from a key: the mask's rule, finite differences, adds",
          "[ops][dropout]") {
  gpt2::Rng rng(3);
  const int64_t n = 500;
  const double p = 0.25;
  const uint64_t key = gpt2::dropout_key(1337, 9, 4);
  std::vector<double> x = randn(static_cast<size_t>(n), rng), w = randn(static_cast<size_t>(n), rng);
  std::vector<double> out(static_cast<size_t>(n));
  gpt2::dropout_forward(out.data(), x.data(), n, p, key);
  int64_t kept = 0;
  for (int64_t i = 0; i < n; ++i) {
    const bool keep = gpt2::dropout_uniform(key, i) >= static_cast<float>(p);
    kept += keep;
    CHECK(out[static_cast<size_t>(i)] == (keep ? x[static_cast<size_t>(i)] * (1 / (1 - p)) : 0.0));
  }
  CHECK(kept > 330);  // about (1 - p) n = 375 survive
  CHECK(kept < 420);
  auto loss = [&]() {
    std::vector<double> o(x.size());
    gpt2::dropout_forward(o.data(), x.data(), n, p, key);
    double l = 0;
    for (size_t i = 0; i < o.size(); ++i) l += o[i] * w[i];
    return l;
  };
  std::vector<double> dx(x.size(), 0.0);
  gpt2::dropout_backward(dx.data(), w.data(), n, p, key);
  CHECK(gpt2::max_scaled_error<double>(dx, gpt2::numeric_gradient<double>(loss, x, 1e-6)) < 1e-7);
  std::vector<double> twice = dx;
  gpt2::dropout_backward(twice.data(), w.data(), n, p, key);  // adds: twice the gradient
  for (size_t i = 0; i < dx.size(); ++i) CHECK(twice[i] == 2 * dx[i]);
  // In place, as the model drops; and the CPU backend's operations are these loops, in float.
  std::vector<float> xf(x.begin(), x.end()), yf(xf.size()), inplace = xf;
  gpt2::CpuBackend cpu;
  cpu.dropout_forward(yf.data(), xf.data(), static_cast<int>(n), 0.25f, key);
  gpt2::dropout_forward(inplace.data(), inplace.data(), n, 0.25f, key);
  CHECK(yf == inplace);
}
