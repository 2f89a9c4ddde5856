// Exercises 04 (your version): replace each `throw` with your code, then run
//   scripts/check_exercises.sh 04
// (the tasks are in exercises/04_transformer_block/README.md).
#include "common/error.h"
#include "exercise.h"

namespace exercise {

void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, int N, int C) {
  // TODO(04.1): derive dL/dx from d xhat_c / d x_k = r (delta_ck - 1/C - xhat_c xhat_k / C), then
  // compare with chapter 04's section "LayerNorm". ADD into all three buffers.
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
  // TODO(04.2): differentiate GELU(x) = x (1 + tanh u) / 2, u = sqrt(2/pi) (x + 0.044715 x^3),
  // with the product and chain rules (chapter 04, "GELU"), and ADD GELU'(x) dout into dinp.
  (void)dinp;
  (void)inp;
  (void)dout;
  (void)n;
  throw gpt2::Error("exercise 04.2 gelu_backward: not implemented yet");
}

void split_qkv_heads(float* qkvh, const float* qkv, int B, int T, int C, int NH) {
  // TODO(04.3): qkvh[w, b, h, t, i] = qkv[b, t, w C + h HS + i] (chapter 04, "Multi-head
  // attention"); work out both offsets from the shapes as in chapter 00.
  (void)qkvh;
  (void)qkv;
  (void)B;
  (void)T;
  (void)C;
  (void)NH;
  throw gpt2::Error("exercise 04.3 split_qkv_heads: not implemented yet");
}

void post_ln_block_backward(double* dinp, const gpt2::BlockParams<double>& g, const double* dout,
                            const double* inp, const gpt2::BlockParams<const double>& w,
                            const PostLnActivations& a, int B, int T, int C, int NH) {
  // TODO(04.4): the ten operations of post_ln_block_forward (exercise.h) in reverse order, each
  // one's backward function from chapter 04 (linear_backward, gelu_backward, layernorm_backward,
  // residual_backward, multihead_attention_backward) fed the gradient of its output. The
  // intermediate values need gradient buffers of their own; think about which values are used
  // twice, and where their gradients must meet.
  (void)dinp;
  (void)g;
  (void)dout;
  (void)inp;
  (void)w;
  (void)a;
  (void)B;
  (void)T;
  (void)C;
  (void)NH;
  throw gpt2::Error("exercise 04.4 post_ln_block_backward: not implemented yet");
}

}  // namespace exercise
