#include "progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "error.h"

namespace gpt2 {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  char buf[32];
  if (seconds < 60) {
    std::snprintf(buf, sizeof buf, "%.1fs", seconds);
  } else if (seconds < 3600) {
    int s = static_cast<int>(seconds);
    std::snprintf(buf, sizeof buf, "%dm%02ds", s / 60, s % 60);
  } else {
    int m = static_cast<int>(seconds / 60);
    std::snprintf(buf, sizeof buf, "%dh%02dm", m / 60, m % 60);
  }
  return buf;
}

ProgressBar::ProgressBar(std::string label, int64_t total, std::string unit)
    : ProgressBar(std::move(label), total, std::move(unit), isatty(fileno(stderr)) != 0, stderr) {}

ProgressBar::ProgressBar(std::string label, int64_t total, std::string unit, bool enabled, std::FILE* out)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(std::max<int64_t>(total, 0)),
      enabled_(enabled),
      out_(out) {}

ProgressBar::~ProgressBar() {
  if (!finished_ && last_draw_ >= 0) finish();
}

std::string ProgressBar::render(int64_t done, std::string_view suffix) const {
  double elapsed = timer_.seconds();
  double frac = total_ > 0 ? std::clamp(static_cast<double>(done) / total_, 0.0, 1.0) : 1.0;
  constexpr int kWidth = 24;
  int filled = static_cast<int>(frac * kWidth);
  std::string bar(filled, '#');
  bar += std::string(kWidth - filled, '.');
  double rate = elapsed > 0 ? done / elapsed : 0.0;
  double eta = rate > 0 ? (total_ - done) / rate : -1.0;
  char rate_buf[32];
  std::snprintf(rate_buf, sizeof rate_buf, "%.3g", rate);
  std::string line =
      cat(label_, " [", bar, "] ", done, "/", total_, " ", static_cast<int>(frac * 100), "% | ", rate_buf,
          " ", unit_, "/s | ", format_duration(elapsed), " elapsed, ETA ", format_duration(eta));
  if (!suffix.empty()) line += cat(" | ", suffix);
  return line;
}

void ProgressBar::update(int64_t done, std::string_view suffix) {
  done_ = done;
  suffix_ = suffix;
  if (!enabled_) return;
  double now = timer_.seconds();
  if (done < total_ && last_draw_ >= 0 && now - last_draw_ < 0.1) return;
  last_draw_ = now;
  // \r returns to the line start; \033[K clears what a longer previous line left behind.
  std::fprintf(out_, "\r%s\033[K", render(done, suffix).c_str());
  std::fflush(out_);
}

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  if (!enabled_) return;
  std::fprintf(out_, "\r%s\033[K\n", render(done_, suffix_).c_str());
  std::fflush(out_);
}

}  // namespace gpt2
