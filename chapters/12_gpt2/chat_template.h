/// @file chat_template.h
/// @brief How a conversation becomes one sequence of tokens for a model fine-tuned to chat.
///
/// A language model continues text; a chat model is one that was fine-tuned on conversations
/// written in a fixed layout, the *chat template*, and so continues a conversation with the next
/// assistant turn. `gpt2 serve`'s chat view and `POST /v1/chat/completions` use this layout:
///
///     <|system|>\n{system message}<|endoftext|>\n
///     <|user|>\n{user message}<|endoftext|>\n
///     <|assistant|>\n{assistant message}<|endoftext|>\n
///     ...
///     <|assistant|>\n                          <- the model writes the next turn from here
///
/// The markers `<|system|>`, `<|user|>`, `<|assistant|>` are ordinary text (GPT-2's tokenizer
/// spells each in a few tokens); the end of a turn is the end-of-text token (id 50256 in GPT-2),
/// which every GPT-2 model already knows as "the text ends here", so generation stops there. A
/// message's text is encoded as ordinary text: a user who types "<|endoftext|>" gets the 7 tokens
/// that spell it, not the special token, and cannot end a turn early. As a second guard,
/// generation also stops if the model starts a new `<|user|>` or `<|system|>` turn itself.
///
/// A model that was fine-tuned with another template needs these two functions changed to match
/// it, and nothing else.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace gpt2 {

/// One turn of a conversation: role is "system", "user" or "assistant".
struct ChatMessage {
  std::string role;
  std::string content;
};

/// Whether the template has this role.
bool is_chat_role(std::string_view role);

/// The prompt for the next assistant turn: every message in the template's layout, then the
/// assistant's opening marker. `encode` turns ordinary text into ids; `end_of_turn` is the id of
/// <|endoftext|> (-1 when the tokenizer has none: turns are then separated by the markers alone).
std::vector<int> chat_prompt(std::span<const ChatMessage> messages,
                             const std::function<std::vector<int>(std::string_view)>& encode,
                             int end_of_turn);

/// Text that ends the assistant's turn besides <|endoftext|>: the markers of the other roles.
std::vector<std::string> chat_stop_strings();

/// The template written out for people (shown by the page and `GET /api/info`).
std::string chat_template_description();

}  // namespace gpt2
