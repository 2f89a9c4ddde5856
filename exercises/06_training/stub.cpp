// Exercises 06 (student version): replace each `throw` with your code, then run
//   ./build-student/bin/exercise_06_training
// (see exercises/06_training/README.md).
#include "common/error.h"
#include "exercise.h"

namespace exercise {

void adamw_update(float* param, const float* grad, float* m, float* v, size_t n, int64_t step, float lr,
                  float beta1, float beta2, float eps, float weight_decay) {
  // TODO(06.1): compute the bias corrections 1 - beta1^step and 1 - beta2^step once (in double),
  // then for every i: decay param[i], update m[i] and v[i], and take the bias-corrected step.
  (void)param, (void)grad, (void)m, (void)v, (void)n, (void)step, (void)lr, (void)beta1, (void)beta2,
      (void)eps, (void)weight_decay;
  throw gpt2::Error("exercise 06.1 adamw_update: not implemented yet");
}

float lr_at(float max_lr, float min_lr, int warmup_steps, int total_steps, int step) {
  // TODO(06.2): three cases: warmup (linear, reaching max_lr at step warmup_steps - 1), cosine
  // decay with ratio (step - warmup_steps) / (total_steps - warmup_steps), and the floor.
  (void)max_lr, (void)min_lr, (void)warmup_steps, (void)total_steps, (void)step;
  throw gpt2::Error("exercise 06.2 lr_at: not implemented yet");
}

float clip_grad_norm(float* grad, size_t n, float max_norm) {
  // TODO(06.3): sum the squares (in double), take the square root, and scale every gradient when
  // the norm exceeds max_norm. Return the norm from before the scaling.
  (void)grad, (void)n, (void)max_norm;
  throw gpt2::Error("exercise 06.3 clip_grad_norm: not implemented yet");
}

}  // namespace exercise
