// Exercises 09 (student version): write the kernels and launch them, then build with
// -DGPT2_CUDA=ON and run ./build-cuda-student/bin/exercise_09_cuda on a machine with a GPU
// (exercises/09_cuda/README.md has the tasks, exercise.h the contracts).
#include "chapters/09_cuda/cuda_check.h"
#include "common/error.h"
#include "exercise.h"

namespace exercise {

void gelu_backward(float* dinp, const float* inp, const float* dout, int n) {
  // TODO(09.1): a kernel with one thread per element (a grid-stride loop covers any n), and its
  // launch. The derivative of GELU is chapter 04's.
  (void)dinp, (void)inp, (void)dout, (void)n;
  throw gpt2::Error("exercise 09.1 gelu_backward: not implemented yet");
}

void softmax_rows(float* out, const float* inp, int rows, int n) {
  // TODO(09.2): a kernel where warp w of the grid owns row w: each lane takes every 32nd element
  // of the row; the maximum and the sum are combined across the warp by shuffles (chapter 09,
  // "Warp reductions"). The softmax itself is chapter 03's.
  (void)out, (void)inp, (void)rows, (void)n;
  throw gpt2::Error("exercise 09.2 softmax_rows: not implemented yet");
}

void matmul_tiled(float* out, const float* a, const float* b, int M, int K, int N) {
  // TODO(09.3): 16 x 16 thread blocks, each computing a 16 x 16 tile of out, walking along K in
  // steps of 16 through tiles of a and b in shared memory (chapter 09, "Step 2, shared-memory
  // tiles"). Sizes need not be multiples of 16.
  (void)out, (void)a, (void)b, (void)M, (void)K, (void)N;
  throw gpt2::Error("exercise 09.3 matmul_tiled: not implemented yet");
}

}  // namespace exercise
