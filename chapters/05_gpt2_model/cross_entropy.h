/// @file cross_entropy.h
/// @brief Softmax and cross-entropy fused into one op, forward and backward.
///
/// For one row of logits z (V numbers) and a target token y, the softmax is
/// p_v = exp(z_v) / sum_u exp(z_u) and the cross-entropy loss is -log p_y. Computed separately,
/// exp overflows for large logits and log(p_y) underflows for tiny probabilities; fused, with
/// m = max_u z_u so that every exp lies in (0, 1],
///
///   loss = log sum_u exp(z_u) - z_y = (m - z_y) + log sum_u exp(z_u - m)
///
/// The gradient is just as simple:
///
///   d loss / d z_v = p_v - [v == y],    p_v = exp(z_v - m) / sum_u exp(z_u - m)
///
/// The forward also saves lse = m + log sum_u exp(z_u - m) for each row (the log of the softmax's
/// normaliser). The backward recomputes m and the sum instead of using p = exp(z - lse): lse is
/// rounded at the scale of the logits (GPT-2's reach magnitudes near 100, where a float's spacing
/// is 7.6e-6) and that rounding would scale every p. One more pass over the row is cheap next to
/// the matrix product that made the logits, and no (BT, V) probability tensor is kept. (lse stays
/// in the signature: it is the forward's output, and a faster backend may trade that accuracy
/// for the pass.)
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

/// The row's maximum m and sum_v exp(z_v - m): the softmax's normaliser, overflow-free.
template <typename F>
void softmax_normaliser(const F* z, int V, F& m, F& sum) {
  m = z[0];
  for (int v = 1; v < V; ++v) m = z[v] > m ? z[v] : m;
  sum = 0;
  for (int v = 0; v < V; ++v) sum += std::exp(z[v] - m);
}

/// losses (N) and lse (N) from logits (N, V) and targets (N) (each in [0, V) or -1, which gives
/// loss 0).
template <typename F>
void cross_entropy_forward(F* losses, F* lse, const F* logits, const int* targets, int N, int V) {
  for (int i = 0; i < N; ++i) {
    const F* z = logits + static_cast<size_t>(i) * V;
    F m, sum;
    softmax_normaliser(z, V, m, sum);
    const F log_sum = std::log(sum);
    lse[i] = m + log_sum;
    // (m - z_y) + log_sum, not lse - z_y: no cancellation between two numbers near m.
    losses[i] = targets[i] < 0 ? F(0) : (m - z[targets[i]]) + log_sum;
  }
}

/// Accumulates dlogits (N, V) += dloss * (softmax(logits) - onehot(targets)) for every row with a
/// target, where dloss is the gradient of the final loss with respect to each row's loss
/// (1 / number of targets for the mean). lse (N) is the forward's; see the file comment for why
/// this plain version recomputes it.
template <typename F>
void cross_entropy_backward(F* dlogits, const F* logits, const F* lse, const int* targets, F dloss, int N,
                            int V) {
  (void)lse;
  for (int i = 0; i < N; ++i) {
    if (targets[i] < 0) continue;
    const F* z = logits + static_cast<size_t>(i) * V;
    F* dz = dlogits + static_cast<size_t>(i) * V;
    F m, sum;
    softmax_normaliser(z, V, m, sum);
    const F scale = dloss / sum;
    for (int v = 0; v < V; ++v) dz[v] += scale * std::exp(z[v] - m);
    dz[targets[i]] -= dloss;
  }
}

}  // namespace gpt2
