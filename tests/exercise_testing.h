/// @file exercise_testing.h
/// @brief Checks the exercise tests share: an array compared with its reference (reported with
/// the worst element), and a gradient buffer that already holds values, to check that a backward
/// ADDS into it.
///
/// @code
///   const std::vector<float> expected = fixture.get_vector("dinp");
///   const std::vector<float> before = exercise_testing::prefilled(expected);
///   std::vector<float> dinp = before;
///   exercise::softmax_backward(dinp.data(), ...);
///   exercise_testing::check_rel(exercise_testing::added(dinp, before), expected, 1e-4, "dinp");
/// @endcode
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "common/testing.h"
#include "tests/catch.h"

namespace exercise_testing {

/// CHECKs gpt2::rel_close(ours, expected, tol); on failure the message names `what` and the
/// worst element (and becomes the task's verdict line).
inline void check_rel(const std::vector<float>& ours, const std::vector<float>& expected, double tol,
                      const std::string& what) {
  const gpt2::CloseResult r = gpt2::rel_close(ours, expected, tol, what);
  INFO(r.message);
  CHECK(r.ok);
}

/// A gradient buffer that already holds something, on the scale of the gradient `like` that will
/// be added to it (so that rounding does not hide an error in a small gradient).
inline std::vector<float> prefilled(const std::vector<float>& like) {
  float scale = 0;
  for (float x : like) scale = std::fmax(scale, std::fabs(x));
  if (scale == 0) scale = 1;
  std::vector<float> v(like.size());
  for (size_t i = 0; i < v.size(); ++i) v[i] = scale * (0.3f + 0.05f * static_cast<float>(i % 7));
  return v;
}

/// What a backward added to a buffer: its contents after, minus before.
inline std::vector<float> added(const std::vector<float>& after, const std::vector<float>& before) {
  std::vector<float> d(after.size());
  for (size_t i = 0; i < d.size() && i < before.size(); ++i) d[i] = after[i] - before[i];
  return d;
}

}  // namespace exercise_testing
