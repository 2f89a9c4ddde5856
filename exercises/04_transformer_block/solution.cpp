// Exercises 04 (solution): the answers are the chapter's own functions.
#include "chapters/04_transformer_block/gelu.h"
#include "chapters/04_transformer_block/layernorm.h"
#include "chapters/04_transformer_block/multihead_attention.h"
#include "exercise.h"

namespace exercise {

void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, int N, int C) {
  gpt2::layernorm_backward(dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C);
}

void gelu_backward(float* dinp, const float* inp, const float* dout, int n) {
  gpt2::gelu_backward(dinp, inp, dout, n);
}

void split_qkv_heads(float* qkvh, const float* qkv, int B, int T, int C, int NH) {
  gpt2::split_heads(qkvh, qkv, 3, B, T, C, NH);
}

}  // namespace exercise
