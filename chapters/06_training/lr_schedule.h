/// @file lr_schedule.h
/// @brief The learning rate at each step: linear warmup, then cosine decay to a floor.
///
/// With s the 0-based step, W warmup steps, S total steps, η_max the peak and η_min the floor:
///
///   s < W:        η = η_max · (s + 1) / W                        (linear warmup)
///   W ≤ s < S:    r = (s − W) / (S − W),
///                 η = η_min + ½ (1 + cos(π r)) (η_max − η_min)   (cosine decay)
///   s ≥ S:        η = η_min
///
/// Warmup keeps the first updates small while AdamW's second-moment estimate v is still based on
/// a handful of gradients; the cosine decay lets the loss settle at the end. The (s + 1) makes the
/// first step's rate η_max / W rather than 0 (as nanoGPT and llm.c do).
///
/// PyTorch: torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_at(schedule, s) / η_max).
#pragma once

#include <cmath>
#include <numbers>

namespace gpt2 {

/// The schedule's four numbers (see the file comment).
struct LrSchedule {
  float max_lr = 6e-4f;  ///< η_max, reached at the end of the warmup
  float min_lr = 6e-5f;  ///< η_min, the floor the cosine decays to
  int warmup_steps = 0;  ///< W (0: no warmup)
  int total_steps = 1;   ///< S, the step at which the decay reaches η_min
};

/// The learning rate for 0-based step `step`.
inline float lr_at(const LrSchedule& schedule, int step) {
  const double max_lr = schedule.max_lr, min_lr = schedule.min_lr;
  if (step < schedule.warmup_steps) return static_cast<float>(max_lr * (step + 1) / schedule.warmup_steps);
  if (step >= schedule.total_steps) return static_cast<float>(min_lr);
  const double ratio =
      static_cast<double>(step - schedule.warmup_steps) / (schedule.total_steps - schedule.warmup_steps);
  const double coeff = 0.5 * (1.0 + std::cos(std::numbers::pi * ratio));  // 1 at the start, 0 at the end
  return static_cast<float>(min_lr + coeff * (max_lr - min_lr));
}

}  // namespace gpt2
