// Exercises 06 (solution): the answers are what chapters/06_training does.
#include "chapters/06_training/adamw.h"
#include "chapters/06_training/grad_clip.h"
#include "chapters/06_training/lr_schedule.h"
#include "exercise.h"

namespace exercise {

void adamw_update(float* param, const float* grad, float* m, float* v, size_t n, int64_t step, float lr,
                  float beta1, float beta2, float eps, float weight_decay) {
  gpt2::adamw_update(param, grad, m, v, n, step, lr, beta1, beta2, eps, weight_decay);
}

float lr_at(float max_lr, float min_lr, int warmup_steps, int total_steps, int step) {
  return gpt2::lr_at(gpt2::LrSchedule{max_lr, min_lr, warmup_steps, total_steps}, step);
}

float clip_grad_norm(float* grad, size_t n, float max_norm) {
  return gpt2::clip_grad_norm(grad, n, max_norm);
}

}  // namespace exercise
