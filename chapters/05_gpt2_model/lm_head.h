/// @file lm_head.h
/// @brief The language-model head: logits = x @ wte^T, reusing the token embedding (weight tying).
///
/// GPT-2 has no separate output matrix. The score of token v at a position is the dot product of
/// the final hidden state with token v's own embedding row:
///
///   logits[i, v] = sum_c x[i, c] * wte[v, c]          i < BT, v < V, c < C
///
/// wte is (V, C), i.e. stored like nn.Linear's (out, in) weight, not like the Conv1D (in, out)
/// weights of chapter 04's linear layer, hence an op of its own. Backward, with g = dL/dlogits:
///
///   dx[i, c]   += sum_v g[i, v] * wte[v, c]           (dx = g @ wte)
///   dwte[v, c] += sum_i g[i, v] * x[i, c]             (dwte = g^T @ x)
///
/// Because the backward passes add, dwte ends up holding this gradient plus the one the
/// embedding lookup (chapter 02's encoder_backward) adds: the two uses of the tied matrix.
///
/// PyTorch: `logits = x @ wte.weight.T` (transformers: `lm_head = nn.Linear(C, V, bias=False)`
/// with `lm_head.weight = wte.weight`). For GPT-2 124M this is the largest single product of the
/// model (C = 768 by V = 50257 per position); chapter 08 makes it fast.
#pragma once

#include <cstddef>

namespace gpt2 {

/// logits (BT, V) = x (BT, C) @ wte (V, C)^T.
template <typename F>
void lm_head_forward(F* logits, const F* x, const F* wte, int BT, int C, int V) {
  for (int i = 0; i < BT; ++i) {
    const F* xi = x + static_cast<size_t>(i) * C;
    F* out = logits + static_cast<size_t>(i) * V;
    for (int v = 0; v < V; ++v) {
      const F* w = wte + static_cast<size_t>(v) * C;  // token v's embedding row: contiguous
      F sum = 0;
      for (int c = 0; c < C; ++c) sum += xi[c] * w[c];
      out[v] = sum;
    }
  }
}

/// Accumulates dx (BT, C) and dwte (V, C) from dlogits (BT, V); either may be null (wte is
/// only read for dx, so it may be null when dx is).
template <typename F>
void lm_head_backward(F* dx, F* dwte, const F* dlogits, const F* x, const F* wte, int BT, int C, int V) {
  for (int i = 0; i < BT; ++i) {
    const F* g = dlogits + static_cast<size_t>(i) * V;
    const F* xi = x + static_cast<size_t>(i) * C;
    F* dxi = dx ? dx + static_cast<size_t>(i) * C : nullptr;
    for (int v = 0; v < V; ++v) {
      const F gv = g[v];
      if (gv == F(0)) continue;  // ignored positions have an all-zero row
      if (dxi) {
        const F* w = wte + static_cast<size_t>(v) * C;
        for (int c = 0; c < C; ++c) dxi[c] += gv * w[c];
      }
      if (dwte) {
        F* dw = dwte + static_cast<size_t>(v) * C;
        for (int c = 0; c < C; ++c) dw[c] += gv * xi[c];
      }
    }
  }
}

}  // namespace gpt2
