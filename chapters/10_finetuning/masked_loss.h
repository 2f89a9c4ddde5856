/// @file masked_loss.h
/// @brief The loss of instruction fine-tuning: cross-entropy over the vocabulary on the
/// assistant's tokens only.
///
/// An SFT example is one token sequence x_0 .. x_{n-1}: the prompt (template markers, the
/// instruction, the input) followed by the answer and its end-of-turn token. A mask says which
/// tokens are the assistant's: assistant[t] = 1 for the answer and the end-of-turn token, 0 for
/// everything else. Position t predicts token t + 1, and we train only the predictions OF
/// assistant tokens:
///
///   target[t] = x_{t+1}   if assistant[t+1] = 1
///             = -1        otherwise (no target: no loss, no gradient)      t = 0 .. n-2
///
/// The prompt still goes through the model, and the answer's predictions attend to it; the model
/// is simply never asked to produce the prompt. The loss of a batch is the mean over all the
/// positions that have a target,
///
///   L = (1 / N_targets) * sum over t with target[t] >= 0 of -log softmax(logits_t)[target[t]]
///
/// and its gradient is chapter 05's cross-entropy gradient with dloss = 1 / N_targets. (A mean
/// per example, then over examples, would weigh a one-word answer as much as a long one;
/// transformers' Trainer and most SFT code take this mean over tokens.)
///
/// The cross-entropy itself is chapter 05's (cross_entropy.h), which already treats a target of
/// -1 as "no target": masking is entirely a matter of which targets we write.
///
/// PyTorch (transformers' causal-LM loss with labels = -100 outside the answer):
/// `F.cross_entropy(logits[:, :-1].reshape(-1, V), labels[:, 1:].reshape(-1), ignore_index=-100)`.
#pragma once

#include <cstdint>

#include "chapters/05_gpt2_model/cross_entropy.h"

namespace gpt2 {

/// targets (n) from tokens (n) and assistant (n): targets[t] = tokens[t + 1] where
/// assistant[t + 1] is 1, else -1; the last position has no next token, so targets[n - 1] = -1.
/// Returns the number of targets written (positions that count in the loss).
inline int sft_targets(int* targets, const int* tokens, const uint8_t* assistant, int n) {
  int count = 0;
  for (int t = 0; t < n; ++t) {
    const bool has_target = t + 1 < n && assistant[t + 1];
    targets[t] = has_target ? tokens[t + 1] : -1;
    count += has_target ? 1 : 0;
  }
  return count;
}

/// The number of entries of targets (N) that are not -1.
inline int count_targets(const int* targets, int N) {
  int count = 0;
  for (int i = 0; i < N; ++i) count += targets[i] >= 0 ? 1 : 0;
  return count;
}

/// The masked mean loss of logits (N, V) against targets (N) (-1 = no target). Fills the
/// per-position losses (N, 0 where ignored) and lse (N) as chapter 05's cross_entropy_forward
/// does. Returns 0 when no position has a target.
template <typename F>
F masked_cross_entropy_forward(F* losses, F* lse, const F* logits, const int* targets, int N, int V) {
  cross_entropy_forward(losses, lse, logits, targets, N, V);
  const int count = count_targets(targets, N);
  if (count == 0) return F(0);
  F sum = 0;
  for (int i = 0; i < N; ++i) sum += losses[i];
  return sum / static_cast<F>(count);
}

/// Accumulates dlogits (N, V) += the gradient of masked_cross_entropy_forward's mean:
/// (softmax - onehot) / N_targets on the rows with a target, nothing on the others.
template <typename F>
void masked_cross_entropy_backward(F* dlogits, const F* logits, const F* lse, const int* targets, int N,
                                   int V) {
  const int count = count_targets(targets, N);
  if (count == 0) return;
  cross_entropy_backward(dlogits, logits, lse, targets, F(1) / static_cast<F>(count), N, V);
}

}  // namespace gpt2
