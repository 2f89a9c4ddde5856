#include "chapters/08_cpu_parallel/cross_entropy_fast.h"

#include <cmath>
#include <cstddef>

#include "chapters/05_gpt2_model/cross_entropy.h"
#include "chapters/08_cpu_parallel/simd.h"
#include "chapters/08_cpu_parallel/vector_ops.h"

namespace gpt2 {

void cross_entropy_forward_fast(float* losses, const float* logits, const int* targets, int N, int V) {
  const bool avx2 = active_simd() == Simd::avx2_fma;
#pragma omp parallel for schedule(static) if (static_cast <double>(N) * V > 1e5)
  for (int i = 0; i < N; ++i) {
    const float* z = logits + static_cast<size_t>(i) * V;
    if (!avx2) {  // the plain row
      cross_entropy_forward(losses + i, z, targets + i, 1, V);
    } else if (targets[i] < 0) {
      losses[i] = 0.0f;
    } else {
      // loss = log sum_v exp(z_v) - z_target, with the maximum m taken out for stability.
      const float m = max_of(z, V);
      losses[i] = (m - z[targets[i]]) + std::log(sum_exp_shifted(z, m, V));
    }
  }
}

void cross_entropy_backward_fast(float* dlogits, const float* logits, const int* targets, float dloss, int N,
                                 int V) {
  const bool avx2 = active_simd() == Simd::avx2_fma;
#pragma omp parallel for schedule(static) if (static_cast <double>(N) * V > 1e5)
  for (int i = 0; i < N; ++i) {
    if (targets[i] < 0) continue;
    const float* z = logits + static_cast<size_t>(i) * V;
    float* dz = dlogits + static_cast<size_t>(i) * V;
    if (!avx2) {
      cross_entropy_backward(dz, z, targets + i, dloss, 1, V);
      continue;
    }
    // dz += dloss * softmax(z) = (dloss / sum) exp(z - m), then the one-hot term at the target.
    const float m = max_of(z, V);
    add_scaled_exp_shifted(dz, dloss / sum_exp_shifted(z, m, V), z, m, V);
    dz[targets[i]] -= dloss;
  }
}

}  // namespace gpt2
