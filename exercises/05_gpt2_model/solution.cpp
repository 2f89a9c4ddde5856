// Exercises 05 (solution). Each function is written out for the exercise; chapter 05's
// cross_entropy.h, parameters.h and lm_head.h compute the same inside the model.
#include <algorithm>
#include <cmath>
#include <vector>

#include "exercise.h"

namespace exercise {

void cross_entropy_backward_row(float* dlogits, const float* logits, int target, float dloss, int V) {
  // loss = log sum_u exp(z_u) - z_y, so d loss / d z_v = p_v - [v == y]. Shifting every logit by
  // the row's maximum m changes no p_v and keeps every exp in (0, 1].
  float m = logits[0];
  for (int v = 1; v < V; ++v) m = std::max(m, logits[v]);
  float sum = 0.0f;
  for (int v = 0; v < V; ++v) sum += std::exp(logits[v] - m);
  for (int v = 0; v < V; ++v) {
    const float p = std::exp(logits[v] - m) / sum;
    dlogits[v] += dloss * (p - (v == target ? 1.0f : 0.0f));
  }
}

int64_t count_parameters(int n_layer, int n_embd, int n_positions, int vocab_size) {
  const int64_t L = n_layer, C = n_embd, maxT = n_positions, V = vocab_size;
  const int64_t layernorm = 2 * C;                                             // weight and bias
  const int64_t c_attn = C * 3 * C + 3 * C;                                    // q, k, v: C -> 3C
  const int64_t attn_proj = C * C + C;                                         // C -> C
  const int64_t c_fc = C * 4 * C + 4 * C;                                      // C -> 4C
  const int64_t mlp_proj = 4 * C * C + C;                                      // 4C -> C
  const int64_t block = 2 * layernorm + c_attn + attn_proj + c_fc + mlp_proj;  // 12 C^2 + 13 C
  return V * C + maxT * C + L * block + layernorm;  // wte, wpe, the blocks, ln_f; the head is wte
}

void tied_embedding_backward(float* dwte, const float* dlogits, const float* lnf, const float* dx0,
                             const int* tokens, int BT, int C, int V) {
  for (int i = 0; i < BT; ++i) {
    // The head: logits[i, v] = sum_c lnf[i, c] wte[v, c], so d/d wte[v, c] = dlogits[i, v] lnf[i, c].
    for (int v = 0; v < V; ++v) {
      const float g = dlogits[static_cast<size_t>(i) * V + v];
      for (int c = 0; c < C; ++c)
        dwte[static_cast<size_t>(v) * C + c] += g * lnf[static_cast<size_t>(i) * C + c];
    }
    // The embedding: x0[i] = wte[tokens[i]] + wpe[...], so row tokens[i] receives dx0[i].
    float* row = dwte + static_cast<size_t>(tokens[i]) * C;
    for (int c = 0; c < C; ++c) row[c] += dx0[static_cast<size_t>(i) * C + c];
  }
}

void model_backward(const Weights<float>& grads, const Weights<const float>& w, const ForwardState& s,
                    const TinyConfig& cfg) {
  const int B = s.B, T = s.T, N = B * T, C = cfg.C, V = cfg.V;
  const size_t nc = static_cast<size_t>(N) * C;

  // The loss is the mean over the n_targets positions that have a target: each of their losses
  // contributes with weight 1 / n_targets, the others not at all.
  const float dloss = 1.0f / static_cast<float>(s.n_targets);
  std::vector<float> dlogits(static_cast<size_t>(N) * V, 0.0f);
  for (int i = 0; i < N; ++i) {
    if (s.targets[i] < 0) continue;
    cross_entropy_backward_row(dlogits.data() + static_cast<size_t>(i) * V,
                               s.logits.data() + static_cast<size_t>(i) * V, s.targets[i], dloss, V);
  }

  // The head: dlnf from dlogits, and the head's share of dwte (the embedding adds its share last).
  std::vector<float> dlnf(nc, 0.0f);
  gpt2::lm_head_backward(dlnf.data(), grads.wte, dlogits.data(), s.lnf.data(), w.wte, N, C, V);

  // The final LayerNorm: its input is the last block's output (or the embedding when L = 0).
  const float* x_last = cfg.L > 0 ? s.blocks[cfg.L - 1].out.data() : s.x0.data();
  std::vector<float> dx(nc, 0.0f);  // gradient of the residual stream between blocks
  gpt2::layernorm_backward(dx.data(), grads.lnf_w, grads.lnf_b, dlnf.data(), x_last, w.lnf_w,
                           s.lnf_mean.data(), s.lnf_rstd.data(), N, C);

  // The blocks, last first. Block l turns d(its output) into d(its input), which is d(the output
  // of block l - 1). block_backward adds into dinp, so the buffer it writes must start at zero.
  std::vector<float> dx_in(nc);
  for (int l = cfg.L - 1; l >= 0; --l) {
    const float* input = l > 0 ? s.blocks[l - 1].out.data() : s.x0.data();
    std::fill(dx_in.begin(), dx_in.end(), 0.0f);
    gpt2::block_backward(dx_in.data(), grads.blocks[l], dx.data(), input, w.blocks[l], s.blocks[l], B, T, C,
                         cfg.NH);
    dx.swap(dx_in);
  }

  // The embedding: scatter d x0 into the rows of wte (the tied matrix's second use) and of wpe.
  gpt2::encoder_backward(grads.wte, grads.wpe, dx.data(), s.tokens.data(), B, T, C);
}

}  // namespace exercise
