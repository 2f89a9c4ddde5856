/// @file exercises/05_gpt2_model/exercise.h
/// @brief Exercises 05: the loss gradient, counting GPT-2's parameters, the tied embedding.
#pragma once

#include <cstdint>

namespace exercise {

/// 05.1: the gradient of the cross-entropy of ONE row of logits (V numbers) with a target in
/// [0, V), ADDED into dlogits (V): dlogits[v] += dloss * (softmax(logits)[v] - [v == target]).
/// Subtract the row's maximum before exp so that large logits do not overflow.
void cross_entropy_backward_row(float* dlogits, const float* logits, int target, float dloss, int V);

/// 05.2: the number of parameters of a GPT-2 with L = n_layer blocks, C = n_embd channels,
/// maxT = n_positions positions and V = vocab_size tokens (GPT-2 124M: 124,439,808).
int64_t count_parameters(int n_layer, int n_embd, int n_positions, int vocab_size);

/// 05.3: the gradient of the tied token embedding wte (V, C), ADDED into dwte: the head's part
/// from dlogits (BT, V) and the final LayerNorm's output lnf (BT, C), plus the embedding's part
/// from dx0 (BT, C), the gradient of the embedding output, at the rows of tokens (BT).
void tied_embedding_backward(float* dwte, const float* dlogits, const float* lnf, const float* dx0,
                             const int* tokens, int BT, int C, int V);

}  // namespace exercise
