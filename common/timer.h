/// @file timer.h
/// @brief Wall-clock timing for benchmarks and progress reports.
#pragma once

#include <chrono>

namespace gpt2 {

/// Measures elapsed wall-clock time from construction (or the last reset()).
class Timer {
 public:
  Timer() : start_(std::chrono::steady_clock::now()) {}
  void reset() { start_ = std::chrono::steady_clock::now(); }
  /// Seconds since construction or reset().
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

}  // namespace gpt2
