#include "chapters/08_cpu_parallel/cross_entropy_fast.h"

#include <cmath>
#include <cstddef>

#include "chapters/05_gpt2_model/cross_entropy.h"
#include "chapters/08_cpu_parallel/simd.h"
#include "chapters/08_cpu_parallel/vector_ops.h"

namespace gpt2 {

void cross_entropy_forward_fast(float* losses, float* lse, const float* logits, const int* targets, int N,
                                int V) {
  const bool vector = active_simd() != Simd::portable;
#pragma omp parallel for schedule(static) if (static_cast <double>(N) * V > 1e5)
  for (int i = 0; i < N; ++i) {
    const float* z = logits + static_cast<size_t>(i) * V;
    if (!vector) {  // the plain row
      cross_entropy_forward(losses + i, lse + i, z, targets + i, 1, V);
    } else {
      // lse = log sum_v exp(z_v) = m + log sum_v exp(z_v - m), with the maximum m taken out for
      // stability; loss = lse - z_target, computed as (m - z_target) + log(sum) (no cancellation).
      const float m = max_of(z, V);
      const float log_sum = std::log(sum_exp_shifted(z, m, V));
      lse[i] = m + log_sum;
      losses[i] = targets[i] < 0 ? 0.0f : (m - z[targets[i]]) + log_sum;
    }
  }
}

void cross_entropy_backward_fast(float* dlogits, const float* logits, const float* lse, const int* targets,
                                 float dloss, int N, int V) {
  const bool vector = active_simd() != Simd::portable;
#pragma omp parallel for schedule(static) if (static_cast <double>(N) * V > 1e5)
  for (int i = 0; i < N; ++i) {
    if (targets[i] < 0) continue;
    const float* z = logits + static_cast<size_t>(i) * V;
    float* dz = dlogits + static_cast<size_t>(i) * V;
    if (!vector) {
      cross_entropy_backward(dz, z, lse + i, targets + i, dloss, 1, V);
      continue;
    }
    // dz += dloss * softmax(z) = (dloss / sum) exp(z - m), then the one-hot term at the target.
    const float m = max_of(z, V);
    add_scaled_exp_shifted(dz, dloss / sum_exp_shifted(z, m, V), z, m, V);
    dz[targets[i]] -= dloss;
  }
}

}  // namespace gpt2
