/// @file exercises/10_finetuning/exercise.h
/// @brief Exercises 10: the SFT loss, LoRA forward and backward, merging LoRA, the chat template.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "chapters/01_tokenizer/tokenizer.h"

namespace exercise {

/// 10.1: the loss of instruction fine-tuning on a batch of B sequences of T tokens: position t of
/// row b predicts token t + 1, and only predictions OF assistant tokens count:
///   target[b, t] = tokens[b, t + 1] if assistant[b, t + 1] else none     (t < T - 1; t = T - 1: none)
///   L = mean over the positions with a target of -log softmax(logits[b, t])[target[b, t]]
/// logits (B, T, V), tokens (B, T), assistant (B, T) (1 = an assistant token). Returns L and ADDS
/// dL/dlogits into dlogits (B, T, V); rows without a target get nothing. L = 0 without targets.
float sft_loss(float* dlogits, const float* logits, const int* tokens, const uint8_t* assistant, int B, int T,
               int V);

/// 10.2a: LoRA's forward on a Conv1D layer: out (N, OC), which already holds the base layer's
/// x W + b, gets scale * (x A^T) B^T ADDED; u (N, r) = x A^T is written for the backward.
/// x (N, C), A (r, C) (PEFT's lora_A.weight), B (OC, r) (lora_B.weight).
void lora_forward(float* out, float* u, const float* x, const float* A, const float* B, float scale, int N,
                  int C, int OC, int r);
/// 10.2b: its backward: ADDS into dx (N, C), dA (r, C), dB (OC, r) the gradients of the LoRA term,
/// given dout (N, OC) and the forward's x and u. (The base layer's share of dx is not included.)
void lora_backward(float* dx, float* dA, float* dB, const float* dout, const float* x, const float* u,
                   const float* A, const float* B, float scale, int N, int C, int OC, int r);

/// 10.3: merges the update into the Conv1D weight W (C, OC), in place: W += scale * (B A)^T.
void lora_merge(float* W, const float* A, const float* B, float scale, int C, int OC, int r);

/// 10.4: one turn in the chapter's chat template, as token ids, with the assistant mask:
///   "### Instruction:\n" instruction ["\n\n### Input:\n" input] "\n\n### Response:\n" output <|endoftext|>
/// (the input part only when input is not empty). Encode each piece on its own, as ordinary text,
/// and concatenate; assistant is 1 for the output's tokens and the final <|endoftext|>, else 0.
struct EncodedTurn {
  std::vector<int> tokens;
  std::vector<uint8_t> assistant;
};
EncodedTurn encode_turn(const gpt2::Tokenizer& tok, const std::string& instruction, const std::string& input,
                        const std::string& output);

}  // namespace exercise
