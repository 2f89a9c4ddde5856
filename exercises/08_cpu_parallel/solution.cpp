// Exercises 08 (solution): the chapter's own code.
#include "chapters/08_cpu_parallel/matmul_steps.h"
#include "chapters/08_cpu_parallel/microkernel.h"
#include "chapters/08_cpu_parallel/reduce.h"
#include "exercise.h"

namespace exercise {

void matmul_ikj(float* out, const float* a, const float* b, int M, int K, int N) {
  gpt2::matmul_loop_order(out, a, b, M, K, N);
}

void microkernel_6x16(int kc, const float* a, const float* b, float* c, int ldc) {
  gpt2::microkernel(gpt2::Simd::portable, kc, a, b, c, static_cast<size_t>(ldc), 6, 16, nullptr,
                    /*load_c=*/true);
}

float sum_deterministic(const float* x, size_t n) {
  return gpt2::sum_deterministic(x, n);
}

}  // namespace exercise
