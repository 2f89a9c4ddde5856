// Exercises 08 (student version): replace each `throw` with your code, then run
//   ./build-student/bin/exercise_08_cpu_parallel
// (see exercises/08_cpu_parallel/README.md).
#include "common/error.h"
#include "exercise.h"

namespace exercise {

void matmul_ikj(float* out, const float* a, const float* b, int M, int K, int N) {
  // TODO(08.1): zero row i of out, then for each k add a[i][k] * (row k of b) to it.
  (void)out, (void)a, (void)b, (void)M, (void)K, (void)N;
  throw gpt2::Error("exercise 08.1 matmul_ikj: not implemented yet");
}

void microkernel_6x16(int kc, const float* a, const float* b, float* c, int ldc) {
  // TODO(08.2): load the 6 x 16 tile of c into a local float acc[6][16]; for each k add
  // a[k * 6 + r] * b[k * 16 + j] to acc[r][j]; store acc back into c.
  (void)kc, (void)a, (void)b, (void)c, (void)ldc;
  throw gpt2::Error("exercise 08.2 microkernel_6x16: not implemented yet");
}

float sum_deterministic(const float* x, size_t n) {
  // TODO(08.3): a partial sum per chunk of 4096 elements (in parallel: #pragma omp parallel for),
  // then add the partial sums in chunk order.
  (void)x, (void)n;
  throw gpt2::Error("exercise 08.3 sum_deterministic: not implemented yet");
}

}  // namespace exercise
