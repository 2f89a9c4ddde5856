/// @file cross_entropy.h
/// @brief Softmax and cross-entropy fused into one op, forward and backward.
///
/// For one row of logits z (V numbers) and a target token y, the softmax is
/// p_v = exp(z_v) / sum_u exp(z_u) and the cross-entropy loss is -log p_y. Computed separately,
/// exp overflows for large logits and log(p_y) underflows for tiny probabilities; fused, it is
///
///   loss = lse - z_y,    lse = log sum_u exp(z_u) = m + log sum_u exp(z_u - m),   m = max_u z_u
///
/// where subtracting the maximum keeps every exp in (0, 1]. The gradient is just as simple:
///
///   d loss / d z_v = p_v - [v == y] = exp(z_v - lse) - [v == y]
///
/// so the forward saves only lse (one number per row) and the backward recomputes p from the
/// logits: no (BT, V) probability tensor is kept.
///
/// A target of -1 means "no target here" (padding, a prompt we do not train on): its loss is 0
/// and it receives no gradient. The model averages over the rows that do have a target.
///
/// PyTorch: `F.cross_entropy(logits.view(-1, V), targets.view(-1), ignore_index=-1,
/// reduction='none')`.
#pragma once

#include <cmath>
#include <cstddef>

namespace gpt2 {

/// losses (N) and lse (N) from logits (N, V) and targets (N) (each in [0, V) or -1).
template <typename F>
void cross_entropy_forward(F* losses, F* lse, const F* logits, const int* targets, int N, int V) {
  for (int i = 0; i < N; ++i) {
    const F* z = logits + static_cast<size_t>(i) * V;
    F m = z[0];
    for (int v = 1; v < V; ++v) m = z[v] > m ? z[v] : m;
    F sum = 0;
    for (int v = 0; v < V; ++v) sum += std::exp(z[v] - m);
    lse[i] = m + std::log(sum);
    losses[i] = targets[i] < 0 ? F(0) : lse[i] - z[targets[i]];
  }
}

/// Accumulates dlogits (N, V) += dloss * (softmax(logits) - onehot(targets)) for every row with a
/// target, where dloss is the gradient of the final loss with respect to each row's loss
/// (1 / number of targets for the mean). Needs the forward's lse (N).
template <typename F>
void cross_entropy_backward(F* dlogits, const F* logits, const F* lse, const int* targets, F dloss, int N,
                            int V) {
  for (int i = 0; i < N; ++i) {
    if (targets[i] < 0) continue;
    const F* z = logits + static_cast<size_t>(i) * V;
    F* dz = dlogits + static_cast<size_t>(i) * V;
    for (int v = 0; v < V; ++v) {
      const F p = std::exp(z[v] - lse[i]);
      dz[v] += dloss * (p - (v == targets[i] ? F(1) : F(0)));
    }
  }
}

}  // namespace gpt2
