// Exercises 04: one way to write each task (compare with yours after you have tried).
#include <cmath>
#include <cstddef>
#include <vector>

#include "exercise.h"

namespace exercise {

void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, int N, int C) {
  for (int r = 0; r < N; ++r) {
    const float* x = inp + static_cast<size_t>(r) * C;
    const float* dy = dout + static_cast<size_t>(r) * C;
    float* dx = dinp + static_cast<size_t>(r) * C;
    // First pass: the two means of g = dy * weight that every dx_c needs.
    float mean_g = 0, mean_g_xhat = 0;
    for (int c = 0; c < C; ++c) {
      const float xhat = (x[c] - mean[r]) * rstd[r];
      const float g = dy[c] * weight[c];
      mean_g += g / C;
      mean_g_xhat += g * xhat / C;
    }
    // Second pass: the three gradients, all added.
    for (int c = 0; c < C; ++c) {
      const float xhat = (x[c] - mean[r]) * rstd[r];
      const float g = dy[c] * weight[c];
      dbias[c] += dy[c];
      dweight[c] += dy[c] * xhat;
      dx[c] += rstd[r] * (g - mean_g - xhat * mean_g_xhat);
    }
  }
}

void gelu_backward(float* dinp, const float* inp, const float* dout, int n) {
  const float s = std::sqrt(2.0f / 3.14159265358979f);
  for (int i = 0; i < n; ++i) {
    const float x = inp[i];
    const float u = s * (x + 0.044715f * x * x * x);
    const float th = std::tanh(u);
    const float du_dx = s * (1.0f + 3.0f * 0.044715f * x * x);
    // d/dx [x (1 + tanh u) / 2] = (1 + tanh u) / 2 + x (1 - tanh^2 u) u'(x) / 2
    const float grad = 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * du_dx;
    dinp[i] += grad * dout[i];
  }
}

void split_qkv_heads(float* qkvh, const float* qkv, int B, int T, int C, int NH) {
  const int HS = C / NH;
  for (int w = 0; w < 3; ++w)
    for (int b = 0; b < B; ++b)
      for (int h = 0; h < NH; ++h)
        for (int t = 0; t < T; ++t) {
          // Source row (b, t) of width 3C, channel w C + h HS; destination row (w, b, h, t) of
          // width HS. size_t: at GPT-2's sizes the offsets pass 2^31.
          const float* src = qkv + (static_cast<size_t>(b) * T + t) * 3 * C + static_cast<size_t>(w) * C +
                             static_cast<size_t>(h) * HS;
          float* dst = qkvh + (((static_cast<size_t>(w) * B + b) * NH + h) * T + t) * HS;
          for (int i = 0; i < HS; ++i) dst[i] = src[i];
        }
}

void post_ln_block_backward(double* dinp, const gpt2::BlockParams<double>& g, const double* dout,
                            const double* inp, const gpt2::BlockParams<const double>& w,
                            const PostLnActivations& a, int B, int T, int C, int NH) {
  const int N = B * T;
  const size_t nc = static_cast<size_t>(N) * C;
  // One gradient buffer per intermediate value. They belong to this pass and start at zero; only
  // dinp and the parameter gradients g accumulate across calls.
  std::vector<double> dsum_2(nc, 0.0), dx1(nc, 0.0), dmlp_proj(nc, 0.0), dfch_gelu(4 * nc, 0.0),
      dfch(4 * nc, 0.0);
  std::vector<double> dsum_1(nc, 0.0), dattn_proj(nc, 0.0), datty(nc, 0.0), dqkv(3 * nc, 0.0);

  // out = ln_2(sum_2)
  gpt2::layernorm_backward(dsum_2.data(), g.ln_2_w, g.ln_2_b, dout, a.sum_2.data(), w.ln_2_w,
                           a.ln_2_mean.data(), a.ln_2_rstd.data(), N, C);
  // sum_2 = x1 + mlp_proj: the addition hands dsum_2 to both (x1's first use).
  gpt2::residual_backward(dx1.data(), dmlp_proj.data(), dsum_2.data(), N * C);
  // mlp_proj = fch_gelu @ W + b, fch_gelu = gelu(fch), fch = x1 @ W + b (x1's second use)
  gpt2::linear_backward(dfch_gelu.data(), g.mlp_c_proj_w, g.mlp_c_proj_b, dmlp_proj.data(), a.fch_gelu.data(),
                        w.mlp_c_proj_w, N, 4 * C, C);
  gpt2::gelu_backward(dfch.data(), a.fch.data(), dfch_gelu.data(), N * 4 * C);
  gpt2::linear_backward(dx1.data(), g.c_fc_w, g.c_fc_b, dfch.data(), a.x1.data(), w.c_fc_w, N, C, 4 * C);
  // x1 = ln_1(sum_1): only now is dx1 complete.
  gpt2::layernorm_backward(dsum_1.data(), g.ln_1_w, g.ln_1_b, dx1.data(), a.sum_1.data(), w.ln_1_w,
                           a.ln_1_mean.data(), a.ln_1_rstd.data(), N, C);
  // sum_1 = inp + attn_proj (inp's first use)
  gpt2::residual_backward(dinp, dattn_proj.data(), dsum_1.data(), N * C);
  // attn_proj = atty @ W + b, atty = mha(qkv), qkv = inp @ W + b (inp's second use)
  gpt2::linear_backward(datty.data(), g.attn_c_proj_w, g.attn_c_proj_b, dattn_proj.data(), a.atty.data(),
                        w.attn_c_proj_w, N, C, C);
  gpt2::multihead_attention_backward(dqkv.data(), datty.data(), a.qkvh.data(), a.att.data(), B, T, C, NH);
  gpt2::linear_backward(dinp, g.c_attn_w, g.c_attn_b, dqkv.data(), inp, w.c_attn_w, N, C, 3 * C);
}

}  // namespace exercise
