/// @file testing.h
/// @brief Test helpers: comparing arrays with tolerances, and finite-difference gradients.
///
/// These know nothing of Catch2, so the exercises and benchmarks can use them too. In a test:
/// @code
///   auto r = gpt2::allclose(ours, reference, 1e-5, 1e-6, "logits");
///   INFO(r.message);
///   CHECK(r.ok);
/// @endcode
#pragma once

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace gpt2 {

/// The outcome of a comparison, with the worst element for the failure message.
struct CloseResult {
  bool ok = true;
  int64_t worst_index = -1;  ///< element with the largest |actual - expected| - (atol + rtol|expected|)
  double worst_actual = 0, worst_expected = 0;
  double max_abs_error = 0;  ///< max |actual - expected|
  double max_rel_error = 0;  ///< max |actual - expected| / max |expected| (the course's metric)
  std::string message;       ///< one line describing the above
};

/// Element-wise |actual - expected| <= atol + rtol * |expected| (numpy's rule). NaN never passes.
/// Sizes must match (a size mismatch is reported as not ok).
CloseResult allclose(std::span<const float> actual, std::span<const float> expected, double rtol, double atol,
                     std::string_view what = "values");

/// Relative error as the course's tests define it: max |actual - expected| / max |expected|, passing
/// when it is <= tol. A NaN or a size mismatch fails.
CloseResult rel_close(std::span<const float> actual, std::span<const float> expected, double tol,
                      std::string_view what = "values");

/// Central finite difference of a scalar function: grad[i] = (f(x + eps e_i) - f(x - eps e_i)) / 2eps.
/// `x` is perturbed in place and restored; `f` reads it. The truncation error is O(eps^2) times the
/// third derivative and the rounding error about machine_eps * |f| / eps, so in double precision
/// eps = 1e-6 gives about 1e-9 relative accuracy for smooth functions.
template <typename Scalar>
std::vector<Scalar> numeric_gradient(const std::function<Scalar()>& f, std::span<Scalar> x, Scalar eps) {
  std::vector<Scalar> grad(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    Scalar saved = x[i];
    x[i] = saved + eps;
    Scalar plus = f();
    x[i] = saved - eps;
    Scalar minus = f();
    x[i] = saved;
    grad[i] = (plus - minus) / (2 * eps);
  }
  return grad;
}

/// Largest |a - b| / max(1, |b|) over the elements: the error measure for gradient checks.
template <typename Scalar>
double max_scaled_error(std::span<const Scalar> a, std::span<const Scalar> b) {
  if (a.size() != b.size()) return INFINITY;
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    double d = std::fabs(static_cast<double>(a[i]) - static_cast<double>(b[i])) /
               std::fmax(1.0, std::fabs(static_cast<double>(b[i])));
    if (!(d <= worst)) worst = d;  // also catches NaN
  }
  return worst;
}

/// A fresh, empty directory for a test: `<system temp>/gpt2_test_<name>_<process id>` (emptied if it
/// exists). The process id keeps apart the test programs that run at the same time (`ctest -j`,
/// several checkouts on one machine), which would otherwise write into each other's files.
std::filesystem::path test_temp_dir(const std::string& name);

/// Root of the fixture directory (tests/fixtures), set by CMake for tests; "" elsewhere.
std::string fixture_dir();
/// Root of the data directory (data/), set by CMake; "" elsewhere.
std::string data_dir();

}  // namespace gpt2
