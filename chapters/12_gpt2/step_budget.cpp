#include "chapters/12_gpt2/step_budget.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace gpt2 {

double median_step_seconds(std::span<const StepMetrics> rows, int64_t tokens_per_step) {
  std::vector<double> seconds;
  for (const StepMetrics& m : rows)
    if (m.tokens_per_sec > 0) seconds.push_back(static_cast<double>(tokens_per_step) / m.tokens_per_sec);
  if (seconds.empty()) return 0;
  std::sort(seconds.begin(), seconds.end());
  return seconds[seconds.size() / 2];
}

int steps_for_budget(const StepTiming& timing, double seconds, int eval_interval, int eval_steps) {
  double per_step = timing.step_seconds;
  if (eval_interval > 0) per_step += timing.forward_seconds * eval_steps / eval_interval;
  per_step *= 1.03;
  if (!(per_step > 0)) return 1;
  return static_cast<int>(std::clamp(std::floor(seconds / per_step), 1.0, 1e9));
}

}  // namespace gpt2
