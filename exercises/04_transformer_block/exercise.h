/// @file exercises/04_transformer_block/exercise.h
/// @brief Exercises 04: the backward passes of LayerNorm and GELU, and splitting q, k, v into heads.
#pragma once

namespace exercise {

/// 04.1: the backward pass of LayerNorm over rows of C numbers. Given dout (N, C), the forward's
/// input inp (N, C), weight (C) and the saved row statistics mean (N) and rstd (N), ADD the
/// gradients into dinp (N, C), dweight (C) and dbias (C).
void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, int N, int C);

/// 04.2: the backward pass of GELU in its tanh form, element-wise over n numbers:
/// dinp[i] += GELU'(inp[i]) * dout[i].
void gelu_backward(float* dinp, const float* inp, const float* dout, int n);

/// 04.3: split the c_attn output qkv (B, T, 3C), channels q | k | v, into heads:
/// qkvh (3, B, NH, T, HS) with qkvh[w, b, h, t, i] = qkv[b, t, w C + h HS + i], HS = C / NH.
void split_qkv_heads(float* qkvh, const float* qkv, int B, int T, int C, int NH);

}  // namespace exercise
