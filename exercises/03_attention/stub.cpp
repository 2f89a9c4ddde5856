// Exercises 03 (student version): replace each `throw` with your code, then run
//   ./build-student/bin/exercise_03_attention
// (see exercises/03_attention/README.md).
#include "common/error.h"
#include "exercise.h"

namespace exercise {

void softmax_backward(float* dinp, const float* dout, const float* out, int rows, int n) {
  // TODO(03.1): for each row r (its elements start at r * n): first the dot product
  // sum_j out_j * dout_j, then dinp_i += out_i * (dout_i - that dot product) for every i.
  (void)dinp;
  (void)dout;
  (void)out;
  (void)rows;
  (void)n;
  throw gpt2::Error("exercise 03.1 softmax_backward: not implemented yet");
}

void causal_attention_weights(float* att, const float* q, const float* k, int T, int HS) {
  // TODO(03.2): for each query position t: the scores q_t . k_s / sqrt(HS) for s = 0..t only,
  // a numerically stable softmax over those t + 1 scores (subtract their maximum before exp),
  // and 0 for s = t + 1..T-1. Row t of att starts at att + t * T; row s of q or k at s * HS.
  (void)att;
  (void)q;
  (void)k;
  (void)T;
  (void)HS;
  throw gpt2::Error("exercise 03.2 causal_attention_weights: not implemented yet");
}

}  // namespace exercise
