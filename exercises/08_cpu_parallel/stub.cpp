// Exercises 08 (student version): replace each `throw` with your code, then build and run
//   ./build-student/bin/exercise_08_cpu_parallel
// (exercises/08_cpu_parallel/README.md has the tasks, exercise.h the contracts).
#include "common/error.h"
#include "exercise.h"

namespace exercise {

void matmul_ikj(float* out, const float* a, const float* b, int M, int K, int N) {
  // TODO(08.1): out (M, N) = a (M, K) @ b (K, N) with the loops in i-k-j order (chapter 08,
  // "1 -> 2, loop order").
  (void)out, (void)a, (void)b, (void)M, (void)K, (void)N;
  throw gpt2::Error("exercise 08.1 matmul_ikj: not implemented yet");
}

void microkernel_6x16(int kc, const float* a, const float* b, float* c, int ldc) {
  // TODO(08.2): c (6 x 16, row stride ldc) += a @ b from the packed slivers a (kc x 6 values)
  // and b (kc x 16 values); layouts in exercise.h, the idea in chapter 08, "3 -> 4".
  (void)kc, (void)a, (void)b, (void)c, (void)ldc;
  throw gpt2::Error("exercise 08.2 microkernel_6x16: not implemented yet");
}

float sum_deterministic(const float* x, size_t n) {
  // TODO(08.3): the sum of x (n) in parallel, in the fixed order exercise.h describes (chapter
  // 08, "Deterministic").
  (void)x, (void)n;
  throw gpt2::Error("exercise 08.3 sum_deterministic: not implemented yet");
}

void matmul_packed(float* out, const float* a, const float* b, int M, int K, int N) {
  // TODO(08.4): out (M, N) = a (M, K) @ b (K, N) from packed slivers and your 08.2 kernel
  // (chapter 08, "3 -> 4, packing and a register tile"; packed_step.h shows the whole loop nest).
  (void)out, (void)a, (void)b, (void)M, (void)K, (void)N;
  throw gpt2::Error("exercise 08.4 matmul_packed: not implemented yet");
}

float quantize_block_q8(const float* x, int8_t* q) {
  // TODO(08.5): the scale and the 32 int8 values of one block (exercise.h; chapter 08, "Weight
  // formats: the error of a block").
  (void)x, (void)q;
  throw gpt2::Error("exercise 08.5 quantize_block_q8: not implemented yet");
}

float dot_q8q8(const int8_t* q, const float* s, const int8_t* u, const float* t, int blocks) {
  // TODO(08.6): sum over the blocks of (s_b t_b) times the block's int32 sum of q_j u_j (exercise.h;
  // chapter 08, "int8 x int8").
  (void)q, (void)s, (void)u, (void)t, (void)blocks;
  throw gpt2::Error("exercise 08.6 dot_q8q8: not implemented yet");
}

void matvec_tiled(float* y, const float* x, const float* tiled, const float* b, int C, int OC) {
  // TODO(08.7): x @ W + b, reading W tile by tile from the tiled order (exercise.h; chapter 08,
  // "A layout for decoding").
  (void)y, (void)x, (void)tiled, (void)b, (void)C, (void)OC;
  throw gpt2::Error("exercise 08.7 matvec_tiled: not implemented yet");
}

}  // namespace exercise
