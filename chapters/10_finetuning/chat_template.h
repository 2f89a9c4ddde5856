/// @file chat_template.h
/// @brief The chat template: how an instruction, its input and its answer become one token
/// sequence, which tokens the loss trains, and a multi-turn conversation.
///
/// One turn is written with Alpaca's section markers (without Alpaca's preamble sentence, which
/// would cost a small model's short context 20 tokens per example), and ends with GPT-2's
/// `<|endoftext|>` token:
///
///     ### Instruction:
///     {instruction}
///
///     ### Input:                      <- these two lines only when the input is not empty
///     {input}
///
///     ### Response:
///     {output}<|endoftext|>
///
/// A conversation is its turns back to back: the next `### Instruction:` follows the previous
/// answer's `<|endoftext|>` directly. The model learns to end every answer with
/// `<|endoftext|>`, where generation stops (chapter 07). A system message (what `gpt2 chat
/// --system` and the API's `system` role give), if any, comes first as plain text followed by a
/// blank line, where Alpaca puts its preamble sentence.
///
/// **Why plain-text markers and not new special tokens.** New tokens (`<|user|>`, ...) would
/// need new rows in the token embedding, which is also the output layer (tied): every model would
/// have to be grown, saved with a new vocab_size and a tokenizer that knows the new tokens, and
/// untrained rows would start random. Plain text needs none of that: the fine-tuned model is
/// an ordinary GPT-2 directory that transformers loads, and the same template works with OpenAI's
/// 50,257-token vocabulary and with a BPE trained by chapter 01, which both have
/// `<|endoftext|>`. The price is a few tokens per marker.
///
/// **Encoding.** Each piece (a marker, the instruction, the input, the answer) is encoded on its
/// own and the ids are concatenated, always the same way in training and at inference. So the
/// answer starts at a token boundary (its mask is exact), a conversation's tokens only ever grow
/// at the end (the KV cache of the earlier turns stays valid), and text is always encoded as
/// ordinary text: a user who types `<|endoftext|>` gets the characters, not the token.
///
/// **The loss mask.** assistant[t] = 1 for the answer's tokens and its `<|endoftext|>`, 0 for the
/// markers, the instruction and the input (masked_loss.h turns the mask into targets).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chapters/01_tokenizer/tokenizer.h"
#include "chapters/10_finetuning/jsonl.h"

namespace gpt2 {

/// The markers of the template.
inline constexpr std::string_view kInstructionMarker = "### Instruction:\n";
inline constexpr std::string_view kInputMarker = "\n\n### Input:\n";
inline constexpr std::string_view kResponseMarker = "\n\n### Response:\n";

/// The id that ends a turn: the tokenizer's `<|endoftext|>`. Throws if it has none.
int end_of_turn_id(const Tokenizer& tok);

/// The text of a turn's prompt, up to and including the response marker (for display).
std::string chat_prompt_text(std::string_view instruction, std::string_view input);

/// The token ids of a turn's prompt (pieces encoded one by one, see the file comment).
std::vector<int> encode_chat_prompt(const Tokenizer& tok, std::string_view instruction,
                                    std::string_view input);

/// One example as the model trains on it: the prompt, the answer and `<|endoftext|>`, and which
/// of those tokens are the assistant's.
struct SftExample {
  std::vector<int> tokens;
  std::vector<uint8_t> assistant;  ///< same length: 1 for the answer and its end-of-turn token
};

/// The tokens and the mask of an instruction example.
SftExample encode_sft_example(const Tokenizer& tok, const InstructionExample& example);

/// A multi-turn conversation kept as tokens, for a chat that reuses its KV cache: tokens() only
/// grows at the end, except when fit() drops the oldest turns (then the cache must be rebuilt,
/// since every remaining token moves to a new position).
class Conversation {
 public:
  explicit Conversation(const Tokenizer& tok) : tok_(&tok), eot_(end_of_turn_id(tok)) {}

  /// Sets the system message, written before the first turn (`text` and a blank line); it is
  /// never dropped by fit() and survives reset(). Only before the first turn; "" removes it.
  void set_system(std::string_view text);
  /// Appends a user turn's prompt (instruction marker, message, response marker) and returns the
  /// number of tokens appended: the ones the model must now read.
  int add_user(std::string_view message);
  /// Appends the assistant's answer as generated, followed by `<|endoftext|>` unless the answer
  /// already ends with it (generation that stopped at its token limit).
  void add_assistant(std::span<const int> answer);

  /// Everything so far.
  const std::vector<int>& tokens() const { return tokens_; }
  /// The number of turns started (a user turn with or without its answer).
  int turns() const { return static_cast<int>(turn_start_.size()); }

  /// Drops the oldest complete turns until at most `max_tokens` tokens remain; returns how many
  /// turns were dropped. Throws, dropping nothing, if the last turn alone is longer than max_tokens (the
  /// caller can then remove_last_turn()).
  int fit(int max_tokens);
  /// Removes the last turn (say, a message too long for the context).
  void remove_last_turn();
  /// Forgets every turn (the `/reset` of a chat); the system message stays.
  void reset();

 private:
  const Tokenizer* tok_;
  int eot_;
  std::vector<int> tokens_;         // the system message's tokens, then the turns'
  size_t system_ = 0;               // how many of them are the system message's
  std::vector<size_t> turn_start_;  // where each turn's tokens begin
};

}  // namespace gpt2
