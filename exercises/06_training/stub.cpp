// Exercises 06 (student version): replace each `throw` with your code, then build and run
//   ./build-student/bin/exercise_06_training
// (exercises/06_training/README.md has the tasks, exercise.h the contracts).
#include "common/error.h"
#include "exercise.h"

namespace exercise {

void adamw_update(float* param, const float* grad, float* m, float* v, size_t n, int64_t step, float lr,
                  float beta1, float beta2, float eps, float weight_decay) {
  // TODO(06.1): one AdamW update of param, m and v (n elements each) at step t = `step`, as the
  // README's formula (torch.optim.AdamW's order: the decay first).
  (void)param, (void)grad, (void)m, (void)v, (void)n, (void)step, (void)lr, (void)beta1, (void)beta2,
      (void)eps, (void)weight_decay;
  throw gpt2::Error("exercise 06.1 adamw_update: not implemented yet");
}

float lr_at(float max_lr, float min_lr, int warmup_steps, int total_steps, int step) {
  // TODO(06.2): the learning rate of 0-based step `step`: warmup, cosine decay, floor (the
  // schedule's formula is in chapter 06, "The learning-rate schedule").
  (void)max_lr, (void)min_lr, (void)warmup_steps, (void)total_steps, (void)step;
  throw gpt2::Error("exercise 06.2 lr_at: not implemented yet");
}

float clip_grad_norm(float* grad, size_t n, float max_norm) {
  // TODO(06.3): the global norm of grad (n), and the scaling when it exceeds max_norm (chapter 06,
  // "Gradient clipping"). Return the norm from before any scaling.
  (void)grad, (void)n, (void)max_norm;
  throw gpt2::Error("exercise 06.3 clip_grad_norm: not implemented yet");
}

StepResult train_step(StepModel& model, AdamWState& optimizer, const AdamWSettings& settings,
                      const std::vector<Batch>& micro_batches, float lr, float max_norm) {
  // TODO(06.4): one optimizer step over the K micro-batches (chapter 06, "The loop", steps 2 to
  // 5, and "Gradient accumulation"). Use your 06.1 and 06.3.
  (void)model, (void)optimizer, (void)settings, (void)micro_batches, (void)lr, (void)max_norm;
  throw gpt2::Error("exercise 06.4 train_step: not implemented yet");
}

}  // namespace exercise
