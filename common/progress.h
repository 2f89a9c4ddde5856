/// @file progress.h
/// @brief A progress bar on stderr for long loops: done/total, rate, ETA and a free-text suffix.
///
/// @code
///   gpt2::ProgressBar bar("train", steps, "step");
///   for (int s = 1; s <= steps; ++s) { ...; bar.update(s, gpt2::cat("loss ", loss)); }
///   bar.finish();
/// @endcode
/// When stderr is not a terminal (CI logs, pipes) the bar stays quiet, so logs are not flooded
/// with carriage returns; pass `enabled` explicitly to override.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "timer.h"

namespace gpt2 {

class ProgressBar {
 public:
  /// `unit` names what is counted ("step", "token", "MB").
  ProgressBar(std::string label, int64_t total, std::string unit = "it");
  ProgressBar(std::string label, int64_t total, std::string unit, bool enabled, std::FILE* out);
  ~ProgressBar();

  /// Reports that `done` of `total` are finished. Redraws at most ten times a second (and always
  /// when done == total).
  void update(int64_t done, std::string_view suffix = "");
  /// Draws the final state and ends the line.
  void finish();

  /// The line as it would be drawn now (without the leading carriage return); for tests.
  std::string render(int64_t done, std::string_view suffix) const;

 private:
  std::string label_, unit_;
  int64_t total_;
  bool enabled_;
  std::FILE* out_;
  Timer timer_;
  double last_draw_ = -1.0;
  int64_t done_ = 0;
  std::string suffix_;
  bool finished_ = false;
};

/// "1h02m", "3m05s", "12.3s": a duration for people.
std::string format_duration(double seconds);

}  // namespace gpt2
