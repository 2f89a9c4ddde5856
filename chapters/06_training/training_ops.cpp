// The training operations of a backend: see training_ops.h.
#include "chapters/06_training/training_ops.h"

#include "chapters/06_training/adamw.h"
#include "chapters/06_training/grad_clip.h"
#include "common/error.h"

namespace gpt2 {

double PlainTrainingOps::grad_norm(const float* grad, size_t n) {
  return gpt2::grad_norm(grad, n);
}

void PlainTrainingOps::scale(float* grad, size_t n, float s) {
  scale_grads(grad, n, s);
}

void PlainTrainingOps::add(float* acc, const float* x, size_t n) {
  add_grads(acc, x, n);
}

void PlainTrainingOps::sum_squares_chunks(const float* grad, size_t n, double* sums) {
  gpt2::sum_squares_chunks(grad, n, sums);
}

void PlainTrainingOps::adamw_update(float* param, const float* grad, float* m, float* v, size_t n,
                                    int64_t step, float lr, float beta1, float beta2, float eps,
                                    float weight_decay) {
  gpt2::adamw_update(param, grad, m, v, n, step, lr, beta1, beta2, eps, weight_decay);
}

TrainingOps& training_ops(Backend& backend) {
  if (auto* own = dynamic_cast<TrainingOps*>(&backend)) return *own;
  GPT2_CHECK(backend.host_memory(), "backend '", backend.name(),
             "' keeps its memory off the host but has no training operations (TrainingOps)");
  static PlainTrainingOps plain;  // stateless: one for everybody
  return plain;
}

}  // namespace gpt2
