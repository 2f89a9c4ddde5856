// Exercises 06 (solution). Chapter 06 computes the same in adamw.cpp, lr_schedule.h,
// grad_clip.cpp and trainer.cpp's train_step.
#include <cmath>
#include <numbers>

#include "common/error.h"
#include "exercise.h"

namespace exercise {

void adamw_update(float* param, const float* grad, float* m, float* v, size_t n, int64_t step, float lr,
                  float beta1, float beta2, float eps, float weight_decay) {
  // The bias corrections 1 - beta^t depend on the step only: once, in double, as PyTorch does.
  const double correction1 = 1.0 - std::pow(static_cast<double>(beta1), static_cast<double>(step));
  const double correction2 = 1.0 - std::pow(static_cast<double>(beta2), static_cast<double>(step));
  const float step_size = static_cast<float>(lr / correction1);
  const float sqrt_correction2 = static_cast<float>(std::sqrt(correction2));
  const float decay = static_cast<float>(1.0 - static_cast<double>(lr) * weight_decay);
  for (size_t i = 0; i < n; ++i) {
    const float g = grad[i];
    m[i] = beta1 * m[i] + (1.0f - beta1) * g;
    v[i] = beta2 * v[i] + (1.0f - beta2) * (g * g);
    // m_hat / (sqrt(v_hat) + eps) with m_hat = m / correction1 and v_hat = v / correction2.
    const float denom = std::sqrt(v[i]) / sqrt_correction2 + eps;
    param[i] = param[i] * decay - step_size * (m[i] / denom);
  }
}

float lr_at(float max_lr, float min_lr, int warmup_steps, int total_steps, int step) {
  if (step < warmup_steps) return static_cast<float>(static_cast<double>(max_lr) * (step + 1) / warmup_steps);
  if (step >= total_steps) return min_lr;
  const double progress = static_cast<double>(step - warmup_steps) / (total_steps - warmup_steps);  // 0 .. 1
  const double cosine = 0.5 * (1.0 + std::cos(std::numbers::pi * progress));                        // 1 .. 0
  return static_cast<float>(min_lr + cosine * (static_cast<double>(max_lr) - min_lr));
}

float clip_grad_norm(float* grad, size_t n, float max_norm) {
  double sum_sq = 0.0;  // in double: a million float squares summed in float lose digits
  for (size_t i = 0; i < n; ++i) sum_sq += static_cast<double>(grad[i]) * grad[i];
  const double norm = std::sqrt(sum_sq);
  if (norm > max_norm) {
    const float scale = static_cast<float>(max_norm / (norm + 1e-6));
    for (size_t i = 0; i < n; ++i) grad[i] *= scale;
  }
  return static_cast<float>(norm);
}

StepResult train_step(StepModel& model, AdamWState& optimizer, const AdamWSettings& settings,
                      const std::vector<Batch>& micro_batches, float lr, float max_norm) {
  const size_t K = micro_batches.size();
  GPT2_CHECK(K > 0, "train_step: no micro-batch");
  // 1. Zero: backward adds, and the buffer still holds the previous step's gradients.
  for (float& g : model.grads) g = 0.0f;
  // 2. Forward and backward per micro-batch: the gradients of the K losses add up.
  double loss_sum = 0.0;
  for (const Batch& batch : micro_batches) {
    loss_sum += model.forward(batch);
    model.backward();
  }
  // 3. The mean loss over the K micro-batches has 1/K of that sum as its gradient.
  const float inv_k = 1.0f / static_cast<float>(K);
  for (float& g : model.grads) g *= inv_k;
  // 4. Clip the global norm (of the averaged gradient).
  StepResult result;
  result.loss = static_cast<float>(loss_sum / static_cast<double>(K));
  result.grad_norm = clip_grad_norm(model.grads.data(), model.grads.size(), max_norm);
  // 5. One AdamW update: the step count first (the bias corrections use t = 1 on the first).
  ++optimizer.step;
  for (const ParamRange& r : model.ranges) {
    adamw_update(model.params.data() + r.offset, model.grads.data() + r.offset, optimizer.m.data() + r.offset,
                 optimizer.v.data() + r.offset, r.size, optimizer.step, lr, settings.beta1, settings.beta2,
                 settings.eps, r.decay ? settings.weight_decay : 0.0f);
  }
  return result;
}

}  // namespace exercise
