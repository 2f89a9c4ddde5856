/// @file chat_template.h
/// @brief How `gpt2 serve`'s chat view and `POST /v1/chat/completions` turn a conversation into
/// tokens: chapter 10's chat template, the one `gpt2 finetune --task sft` trains and `gpt2 chat`
/// speaks.
///
/// A language model continues text; a chat model is one fine-tuned on conversations written in a
/// fixed layout, and so continues a conversation with the next assistant turn. Chapter 10's layout
/// (chapters/10_finetuning/chat_template.h) is Alpaca's section markers as plain text, each answer
/// ended by `<|endoftext|>`:
///
///     {system message}\n\n                          <- only if there is one
///     ### Instruction:\n{user}\n\n### Response:\n{assistant}<|endoftext|>
///     ### Instruction:\n{user}\n\n### Response:\n   <- the model writes the next answer from here
///
/// Each piece is encoded on its own as ordinary text: a user who types "<|endoftext|>" gets the
/// characters that spell it, not the token, and cannot end a turn early. Generation stops at the
/// end-of-text token, and, as a second guard, when the model starts a new `### Instruction:`
/// itself. A model fine-tuned with another template needs these functions changed to match it.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chapters/01_tokenizer/tokenizer.h"

namespace gpt2 {

/// One turn of a conversation: role is "system", "user" or "assistant".
struct ChatMessage {
  std::string role;
  std::string content;
};

/// Whether the template has this role.
bool is_chat_role(std::string_view role);

/// Checks the order of the roles the template can write: system messages only before the first
/// user message, then user and assistant by turns, the last one the user's (the model answers it).
/// Returns "" when the order is right, else what is wrong and the index of the message at fault.
std::pair<std::string, size_t> chat_order_problem(std::span<const ChatMessage> messages);

/// The prompt for the next assistant turn: the messages in chapter 10's template (a chapter 10
/// Conversation), ending with the response marker. The messages must be in an order
/// chat_order_problem() accepts; the tokenizer must have <|endoftext|>.
std::vector<int> chat_prompt(std::span<const ChatMessage> messages, const Tokenizer& tok);

/// Text that ends the assistant's turn besides <|endoftext|>: the start of a new instruction.
std::vector<std::string> chat_stop_strings();

/// The template written out for people (shown by the page and `GET /api/info`).
std::string chat_template_description();

}  // namespace gpt2
