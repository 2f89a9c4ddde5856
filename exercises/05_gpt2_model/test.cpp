#include <cmath>
#include <vector>

#include "common/rng.h"
#include "common/testing.h"
#include "exercise.h"
#include "tests/catch.h"

namespace {
std::vector<float> randn(size_t n, uint64_t seed, float std = 1.0f) {
  gpt2::Rng rng(seed);
  std::vector<float> v(n);
  rng.fill_normal(v, 0.0f, std);
  return v;
}
}  // namespace

TEST_CASE("05.1 cross_entropy_backward_row matches finite differences and adds", "[exercise]") {
  const int V = 9, target = 4;
  std::vector<float> logits = randn(V, 3, 2.0f);
  // The loss -log softmax(z)[target], in double, straight from the definition.
  std::vector<double> z(logits.begin(), logits.end());
  auto loss = [&] {
    double s = 0;
    for (double x : z) s += std::exp(x);
    return std::log(s) - z[target];
  };
  std::vector<double> numeric = gpt2::numeric_gradient<double>(loss, z, 1e-6);
  std::vector<float> d(V, 1.0f);  // starts at 1: the function must add
  exercise::cross_entropy_backward_row(d.data(), logits.data(), target, 0.5f, V);
  for (int v = 0; v < V; ++v) CHECK(std::fabs((d[v] - 1.0f) - 0.5 * numeric[v]) < 1e-6);
  // Large logits must not overflow (exp(1000) is inf in float).
  std::vector<float> big = {1000.0f, 999.0f, 998.0f}, dbig(3, 0.0f);
  exercise::cross_entropy_backward_row(dbig.data(), big.data(), 0, 1.0f, 3);
  const double e1 = std::exp(-1.0), e2 = std::exp(-2.0), s = 1 + e1 + e2;
  CHECK(std::fabs(dbig[0] - (1 / s - 1)) < 1e-6);
  CHECK(std::fabs(dbig[1] - e1 / s) < 1e-6);
  CHECK(std::fabs(dbig[2] - e2 / s) < 1e-6);
}

TEST_CASE("05.2 count_parameters gives OpenAI's published sizes", "[exercise]") {
  CHECK(exercise::count_parameters(12, 768, 1024, 50257) == 124439808);    // gpt2
  CHECK(exercise::count_parameters(24, 1024, 1024, 50257) == 354823168);   // gpt2-medium
  CHECK(exercise::count_parameters(36, 1280, 1024, 50257) == 774030080);   // gpt2-large
  CHECK(exercise::count_parameters(48, 1600, 1024, 50257) == 1557611200);  // gpt2-xl: needs int64
  CHECK(exercise::count_parameters(2, 64, 32, 97) == 108352);              // the tests' tiny model
}

TEST_CASE("05.3 tied_embedding_backward adds the head's and the embedding's gradients", "[exercise]") {
  // f(wte) = sum(dlogits * (lnf @ wte^T)) + sum(dx0 * wte[tokens]) is linear in wte and its
  // gradient is exactly the tied gradient, so central differences recover it up to rounding.
  const int BT = 5, C = 3, V = 7;
  std::vector<float> dlogits = randn(BT * V, 1), lnf = randn(BT * C, 2), dx0 = randn(BT * C, 3);
  std::vector<int> tokens = {2, 5, 2, 0, 6};  // token 2 twice: both occurrences add
  std::vector<double> wte(V * C, 0.0);
  auto f = [&] {
    double s = 0;
    for (int i = 0; i < BT; ++i) {
      for (int v = 0; v < V; ++v) {
        double logit = 0;
        for (int c = 0; c < C; ++c) logit += lnf[i * C + c] * wte[v * C + c];
        s += dlogits[i * V + v] * logit;
      }
      for (int c = 0; c < C; ++c) s += dx0[i * C + c] * wte[tokens[i] * C + c];
    }
    return s;
  };
  std::vector<double> numeric = gpt2::numeric_gradient<double>(f, wte, 1e-3);
  std::vector<float> dwte(V * C, 0.25f);  // starts at 0.25: the function must add
  exercise::tied_embedding_backward(dwte.data(), dlogits.data(), lnf.data(), dx0.data(), tokens.data(), BT, C,
                                    V);
  for (int i = 0; i < V * C; ++i) CHECK(std::fabs((dwte[i] - 0.25f) - numeric[i]) < 1e-5);
}
