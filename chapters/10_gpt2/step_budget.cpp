#include "chapters/10_gpt2/step_budget.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/timer.h"

namespace gpt2 {

StepTiming measure_step(GPT2& model, DataLoader& loader, int grad_accum_steps, int repeats) {
  const int B = loader.B(), T = loader.T();
  std::vector<int> inputs(static_cast<size_t>(B) * T), targets(inputs.size());
  loader.next_batch(inputs.data(), targets.data());
  auto pass = [&](bool backward) {
    Timer timer;
    model.forward(inputs.data(), targets.data(), B, T);
    if (backward) model.backward();
    return timer.seconds();
  };
  model.zero_grad();
  pass(true);  // warm-up: the activation arena and the backward scratch are allocated here
  std::vector<double> fb, f;
  for (int r = 0; r < std::max(1, repeats); ++r) {
    fb.push_back(pass(true));
    f.push_back(pass(false));
  }
  model.zero_grad();
  loader.reset();
  std::sort(fb.begin(), fb.end());
  std::sort(f.begin(), f.end());
  return {grad_accum_steps * fb[fb.size() / 2], f[f.size() / 2]};
}

int steps_for_budget(const StepTiming& timing, double seconds, int eval_interval, int eval_steps) {
  double per_step = timing.step_seconds;
  if (eval_interval > 0) per_step += timing.forward_seconds * eval_steps / eval_interval;
  per_step *= 1.03;
  if (!(per_step > 0)) return 1;
  return static_cast<int>(std::clamp(std::floor(seconds / per_step), 1.0, 1e9));
}

}  // namespace gpt2
