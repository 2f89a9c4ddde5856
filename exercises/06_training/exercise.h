/// @file exercises/06_training/exercise.h
/// @brief Exercises 06: the AdamW update, the learning-rate schedule, gradient clipping, and one
/// whole training step.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace exercise {

/// 06.1: one AdamW step over n parameters, as torch.optim.AdamW does it; `step` is t = 1, 2, ...
/// (the update is in the exercise README and in chapter 06, "AdamW"). Updates param, m and v.
void adamw_update(float* param, const float* grad, float* m, float* v, size_t n, int64_t step, float lr,
                  float beta1, float beta2, float eps, float weight_decay);

/// 06.2: the learning rate at 0-based `step`: linear warmup max_lr (step + 1) / warmup_steps for
/// step < warmup_steps, then cosine decay from max_lr to min_lr at total_steps, min_lr after.
float lr_at(float max_lr, float min_lr, int warmup_steps, int total_steps, int step);

/// 06.3: clips the gradient buffer to global norm max_norm (scale by max_norm / (norm + 1e-6) when
/// norm > max_norm) and returns the norm before clipping.
float clip_grad_norm(float* grad, size_t n, float max_norm);

// ---------------------------------------------------------------------------------------------
// 06.4: one training step.

/// One micro-batch: B T input ids and their B T targets.
struct Batch {
  std::vector<int> inputs;
  std::vector<int> targets;
};

/// A range [offset, offset + size) of the parameter buffer, and whether weight decay applies to it.
struct ParamRange {
  size_t offset = 0;
  size_t size = 0;
  bool decay = false;
};

/// What a training step needs from a model (chapter 06's TrainableModel, reduced to the minimum).
struct StepModel {
  std::span<float> params;                     ///< all parameters, one buffer
  std::span<float> grads;                      ///< their gradients, same layout
  std::vector<ParamRange> ranges;              ///< cover params in order; decay = true for the matrices
  std::function<float(const Batch&)> forward;  ///< the mean loss of a batch; keeps what backward needs
  std::function<void()> backward;              ///< ADDS d(last forward's loss)/d params into grads
};

/// AdamW's hyperparameters (the learning rate is given per step).
struct AdamWSettings {
  float beta1 = 0.9f, beta2 = 0.95f, eps = 1e-8f, weight_decay = 0.1f;
};

/// AdamW's state: the two moments (one entry per parameter, starting at 0) and the number of
/// updates done so far (0 before the first).
struct AdamWState {
  std::vector<float> m, v;
  int64_t step = 0;
};

/// What a step reports.
struct StepResult {
  float loss = 0;       ///< mean of the micro-batches' losses
  float grad_norm = 0;  ///< global gradient norm before clipping
};

/// 06.4: one optimizer step over K = micro_batches.size() micro-batches: the gradient of the mean
/// loss over all of them, clipped to global norm max_norm (06.3), then one AdamW update (06.1) at
/// learning rate lr, with weight decay only on the ranges marked decay. `model.grads` holds
/// anything on entry (the previous step's gradients, or garbage).
StepResult train_step(StepModel& model, AdamWState& optimizer, const AdamWSettings& settings,
                      const std::vector<Batch>& micro_batches, float lr, float max_norm);

}  // namespace exercise
