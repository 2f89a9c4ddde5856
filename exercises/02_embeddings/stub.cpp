// Exercises 02 (your version): replace each `throw` with your code, then run
//   scripts/check_exercises.sh 02
// (the tasks are in exercises/02_embeddings/README.md).
#include "common/error.h"
#include "exercise.h"

namespace exercise {

void positional_encoding(float* out, int T, int C) {
  // TODO(02.1): the table of chapter 02's section "Sinusoidal encoding"; compute each angle in
  // double precision.
  (void)out;
  (void)T;
  (void)C;
  throw gpt2::Error("exercise 02.1 positional_encoding: not implemented yet");
}

void embedding_backward(float* dwte, float* dwpe, const float* dout, const int* tokens, int B, int T, int C) {
  // TODO(02.2): the backward pass of chapter 02's section "Backward": every output row's gradient
  // goes to two rows, and is ADDED there.
  (void)dwte;
  (void)dwpe;
  (void)dout;
  (void)tokens;
  (void)B;
  (void)T;
  (void)C;
  throw gpt2::Error("exercise 02.2 embedding_backward: not implemented yet");
}

void shift_position(double* out, const double* pe_t, int k, int C) {
  // TODO(02.3): each channel pair (2i, 2i + 1) of PE[t] is (sin a, cos a) with a = t w_i; the pair
  // of PE[t + k] is (sin(a + k w_i), cos(a + k w_i)). Use the angle-addition formulas.
  (void)out;
  (void)pe_t;
  (void)k;
  (void)C;
  throw gpt2::Error("exercise 02.3 shift_position: not implemented yet");
}

}  // namespace exercise
