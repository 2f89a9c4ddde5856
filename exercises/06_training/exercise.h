/// @file exercises/06_training/exercise.h
/// @brief Exercises 06: the AdamW update, the learning-rate schedule, gradient clipping.
#pragma once

#include <cstddef>
#include <cstdint>

namespace exercise {

/// 06.1: one AdamW step over n parameters, as torch.optim.AdamW does it (see
/// chapters/06_training/adamw.h). `step` is t = 1, 2, ... For each i:
/// p ← p (1 − lr wd); m ← β1 m + (1 − β1) g; v ← β2 v + (1 − β2) g²;
/// p ← p − lr · (m / (1 − β1^t)) / (√(v / (1 − β2^t)) + ε).
void adamw_update(float* param, const float* grad, float* m, float* v, size_t n, int64_t step, float lr,
                  float beta1, float beta2, float eps, float weight_decay);

/// 06.2: the learning rate at 0-based `step`: linear warmup max_lr (step + 1) / warmup_steps for
/// step < warmup_steps, then cosine decay from max_lr to min_lr at total_steps, min_lr after.
float lr_at(float max_lr, float min_lr, int warmup_steps, int total_steps, int step);

/// 06.3: clips the gradient buffer to global norm max_norm (scale by max_norm / (norm + 1e-6) when
/// norm > max_norm) and returns the norm before clipping.
float clip_grad_norm(float* grad, size_t n, float max_norm);

}  // namespace exercise
