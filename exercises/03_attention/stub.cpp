// Exercises 03 (your version): replace each `throw` with your code, then run
//   scripts/check_exercises.sh 03
// (the tasks are in exercises/03_attention/README.md).
#include "common/error.h"
#include "exercise.h"

namespace exercise {

void softmax_backward(float* dinp, const float* dout, const float* out, int rows, int n) {
  // TODO(03.1): for each row, ADD dL/dinp. Derive it from d out_j / d inp_i = out_j (delta_ij - out_i)
  // (chapter 03, "Softmax"); it needs one sum per row, not an n x n matrix.
  (void)dinp;
  (void)dout;
  (void)out;
  (void)rows;
  (void)n;
  throw gpt2::Error("exercise 03.1 softmax_backward: not implemented yet");
}

void causal_attention_weights(float* att, const float* q, const float* k, int T, int HS) {
  // TODO(03.2): row t of att is a softmax over the scaled scores of keys 0..t, and exactly 0
  // after them (chapter 03, "Scaled dot-product attention" and "The causal mask"). Keep it
  // finite for large scores.
  (void)att;
  (void)q;
  (void)k;
  (void)T;
  (void)HS;
  throw gpt2::Error("exercise 03.2 causal_attention_weights: not implemented yet");
}

void attention_head_backward(float* dq, float* dk, float* dv, const float* dout, const float* q,
                             const float* k, const float* v, const float* att, int T, int HS) {
  // TODO(03.3): go back through out = P v, P = softmax(S), S = q k^T / sqrt(HS) in that order
  // (chapter 03, "Backward"), ADDING into dq, dk, dv. The masked weights pass no gradient.
  (void)dq;
  (void)dk;
  (void)dv;
  (void)dout;
  (void)q;
  (void)k;
  (void)v;
  (void)att;
  (void)T;
  (void)HS;
  throw gpt2::Error("exercise 03.3 attention_head_backward: not implemented yet");
}

}  // namespace exercise
