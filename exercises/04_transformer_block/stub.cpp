// Exercises 04 (student version): replace each `throw` with your code, then run
//   ./build-student/bin/exercise_04_transformer_block
// (see exercises/04_transformer_block/README.md).
#include "common/error.h"
#include "exercise.h"

namespace exercise {

void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, int N, int C) {
  // TODO(04.1): for each row r, with xhat_c = (inp_c - mean[r]) * rstd[r] and g_c = dout_c * weight_c:
  //   dbias_c   += dout_c
  //   dweight_c += dout_c * xhat_c
  //   dinp_c    += rstd[r] * (g_c - mean over c of g - xhat_c * mean over c of (g * xhat))
  // (two passes over the row: the two means first, then the updates).
  (void)dinp;
  (void)dweight;
  (void)dbias;
  (void)dout;
  (void)inp;
  (void)weight;
  (void)mean;
  (void)rstd;
  (void)N;
  (void)C;
  throw gpt2::Error("exercise 04.1 layernorm_backward: not implemented yet");
}

void gelu_backward(float* dinp, const float* inp, const float* dout, int n) {
  // TODO(04.2): GELU(x) = 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3). Differentiate
  // with the product and chain rules (tanh'(u) = 1 - tanh(u)^2), then dinp[i] += GELU'(x) * dout[i].
  (void)dinp;
  (void)inp;
  (void)dout;
  (void)n;
  throw gpt2::Error("exercise 04.2 gelu_backward: not implemented yet");
}

void split_qkv_heads(float* qkvh, const float* qkv, int B, int T, int C, int NH) {
  // TODO(04.3): four nested loops over w (0..2), b, h, t; copy the HS numbers starting at
  // qkv + (b T + t) 3C + w C + h HS to qkvh + (((w B + b) NH + h) T + t) HS. Use size_t for offsets.
  (void)qkvh;
  (void)qkv;
  (void)B;
  (void)T;
  (void)C;
  (void)NH;
  throw gpt2::Error("exercise 04.3 split_qkv_heads: not implemented yet");
}

}  // namespace exercise
