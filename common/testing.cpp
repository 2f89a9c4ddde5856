#include "testing.h"

#include <unistd.h>

#include <algorithm>

#include "error.h"

namespace gpt2 {

namespace {
CloseResult size_mismatch(size_t a, size_t b, std::string_view what) {
  CloseResult r;
  r.ok = false;
  r.message = cat(what, ": size mismatch, actual has ", a, " elements, expected ", b);
  return r;
}
}  // namespace

CloseResult allclose(std::span<const float> actual, std::span<const float> expected, double rtol, double atol,
                     std::string_view what) {
  if (actual.size() != expected.size()) return size_mismatch(actual.size(), expected.size(), what);
  CloseResult r;
  double worst_excess = -INFINITY, max_ref = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    double a = actual[i], e = expected[i];
    double err = std::fabs(a - e);
    double excess = err - (atol + rtol * std::fabs(e));
    if (std::isnan(a) != std::isnan(e) || std::isnan(err)) excess = INFINITY;
    if (excess > worst_excess) {
      worst_excess = excess;
      r.worst_index = static_cast<int64_t>(i);
      r.worst_actual = a;
      r.worst_expected = e;
    }
    if (!(err <= r.max_abs_error)) r.max_abs_error = err;
    max_ref = std::max(max_ref, std::fabs(e));
  }
  r.max_rel_error = max_ref > 0 ? r.max_abs_error / max_ref : r.max_abs_error;
  r.ok = actual.empty() || worst_excess <= 0;
  r.message = cat(what, ": ", r.ok ? "ok" : "MISMATCH", ", max abs error ", r.max_abs_error,
                  ", worst element [", r.worst_index, "] = ", r.worst_actual, " expected ", r.worst_expected,
                  " (rtol ", rtol, ", atol ", atol, ", ", actual.size(), " elements)");
  return r;
}

CloseResult rel_close(std::span<const float> actual, std::span<const float> expected, double tol,
                      std::string_view what) {
  if (actual.size() != expected.size()) return size_mismatch(actual.size(), expected.size(), what);
  CloseResult r;
  double max_ref = 0, worst = -1;
  bool nan = false;
  for (size_t i = 0; i < actual.size(); ++i) {
    double a = actual[i], e = expected[i];
    double err = std::fabs(a - e);
    if (std::isnan(err)) nan = true;
    if (std::isnan(err) || err > worst) {
      worst = std::isnan(err) ? INFINITY : err;
      r.worst_index = static_cast<int64_t>(i);
      r.worst_actual = a;
      r.worst_expected = e;
    }
    max_ref = std::max(max_ref, std::fabs(e));
  }
  r.max_abs_error = std::max(worst, 0.0);
  r.max_rel_error = max_ref > 0 ? r.max_abs_error / max_ref : r.max_abs_error;
  r.ok = !nan && r.max_rel_error <= tol;
  r.message = cat(what, ": ", r.ok ? "ok" : "MISMATCH", ", relative error ", r.max_rel_error, " (max |diff| ",
                  r.max_abs_error, " / max |ref| ", max_ref, ", tolerance ", tol, "), worst element [",
                  r.worst_index, "] = ", r.worst_actual, " expected ", r.worst_expected);
  return r;
}

std::filesystem::path test_temp_dir(const std::string& name) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / cat("gpt2_test_", name, "_", ::getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string fixture_dir() {
#ifdef GPT2_FIXTURE_DIR
  return GPT2_FIXTURE_DIR;
#else
  return "";
#endif
}

std::string data_dir() {
#ifdef GPT2_DATA_DIR
  return GPT2_DATA_DIR;
#else
  return "";
#endif
}

}  // namespace gpt2
