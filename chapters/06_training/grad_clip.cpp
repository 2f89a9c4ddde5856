#include "grad_clip.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "chapters/06_training/training_ops.h"

namespace gpt2 {

void sum_squares_chunks(const float* grad, size_t n, double* sums) {
  const size_t chunks = (n + kNormChunk - 1) / kNormChunk;
  // Each chunk's sum is computed by one thread in index order: no dependence on the thread count.
#pragma omp parallel for schedule(static)
  for (size_t c = 0; c < chunks; ++c) {
    const size_t begin = c * kNormChunk, end = std::min(n, begin + kNormChunk);
    double sum = 0.0;
    for (size_t i = begin; i < end; ++i) sum += static_cast<double>(grad[i]) * grad[i];
    sums[c] = sum;
  }
}

double norm_of_chunk_sums(const double* sums, size_t chunks) {
  double total = 0.0;
  for (size_t c = 0; c < chunks; ++c) total += sums[c];  // chunk order, always
  return std::sqrt(total);
}

double grad_norm(const float* grad, size_t n) {
  std::vector<double> partial((n + kNormChunk - 1) / kNormChunk);
  sum_squares_chunks(grad, n, partial.data());
  return norm_of_chunk_sums(partial.data(), partial.size());
}

void scale_grads(float* grad, size_t n, float scale) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; ++i) grad[i] *= scale;
}

void add_grads(float* acc, const float* x, size_t n) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; ++i) acc[i] += x[i];
}

float clip_grad_norm(TrainingOps& ops, float* grad, size_t n, float max_norm) {
  const double norm = ops.grad_norm(grad, n);
  if (max_norm > 0 && norm > max_norm) {
    ops.scale(grad, n, static_cast<float>(max_norm / (norm + 1e-6)));
  }
  return static_cast<float>(norm);
}

float clip_grad_norm(float* grad, size_t n, float max_norm) {
  PlainTrainingOps plain;
  return clip_grad_norm(plain, grad, n, max_norm);
}

}  // namespace gpt2
