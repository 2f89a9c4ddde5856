#include <cmath>
#include <vector>

#include "common/testing.h"
#include "tests/catch.h"

TEST_CASE("allclose passes within tolerance and reports the worst element", "[testing]") {
  std::vector<float> ref{1.0f, 2.0f, 3.0f, 100.0f};
  std::vector<float> ok{1.0f, 2.0f + 1e-6f, 3.0f, 100.0f};
  CHECK(gpt2::allclose(ok, ref, 1e-5, 1e-6).ok);
  std::vector<float> bad{1.0f, 2.0f, 3.1f, 100.05f};
  auto r = gpt2::allclose(bad, ref, 1e-5, 1e-6, "logits");
  CHECK(!r.ok);
  CHECK(r.worst_index == 2);  // 0.1 off at 3 is worse than 0.05 off at 100 (scaled by rtol)
  CHECK(r.message.find("logits: MISMATCH") == 0);
  CHECK(r.max_abs_error == Approx(0.1).epsilon(1e-5));
}

TEST_CASE("allclose and rel_close never pass NaN or size mismatches", "[testing]") {
  std::vector<float> ref{1.0f, 2.0f};
  std::vector<float> nan{1.0f, NAN};
  CHECK(!gpt2::allclose(nan, ref, 1.0, 1.0).ok);
  CHECK(!gpt2::rel_close(nan, ref, 1.0).ok);
  std::vector<float> shorter{1.0f};
  CHECK(!gpt2::allclose(shorter, ref, 1.0, 1.0).ok);
  CHECK(!gpt2::rel_close(shorter, ref, 1.0).ok);
}

TEST_CASE("rel_close uses max|diff| / max|ref|", "[testing]") {
  std::vector<float> ref{10.0f, -20.0f, 0.0f};
  std::vector<float> a{10.0f, -20.0f, 0.002f};  // 0.002 / 20 = 1e-4
  CHECK(gpt2::rel_close(a, ref, 1.01e-4).ok);
  CHECK(!gpt2::rel_close(a, ref, 0.99e-4).ok);
  CHECK(gpt2::rel_close(a, ref, 1.01e-4).max_rel_error == Approx(1e-4).epsilon(1e-3));
}

TEST_CASE("numeric_gradient matches an analytic gradient and catches a wrong one", "[testing]") {
  // f(x) = sum_i sin(x_i) * x_{i+1}: df/dx_i = cos(x_i) x_{i+1} + sin(x_{i-1})
  std::vector<double> x{0.3, -1.2, 2.0, 0.7};
  auto f = [&]() {
    double s = 0;
    for (size_t i = 0; i + 1 < x.size(); ++i) s += std::sin(x[i]) * x[i + 1];
    return s;
  };
  std::vector<double> analytic(x.size(), 0.0);
  for (size_t i = 0; i < x.size(); ++i) {
    if (i + 1 < x.size()) analytic[i] += std::cos(x[i]) * x[i + 1];
    if (i > 0) analytic[i] += std::sin(x[i - 1]);
  }
  std::vector<double> numeric = gpt2::numeric_gradient<double>(f, x, 1e-6);
  CHECK(gpt2::max_scaled_error<double>(numeric, analytic) < 1e-8);
  CHECK(x[0] == 0.3);   // restored
  analytic[2] += 1e-4;  // a small bug in the analytic gradient must be visible
  CHECK(gpt2::max_scaled_error<double>(numeric, analytic) > 5e-5);
}
