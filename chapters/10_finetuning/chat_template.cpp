#include "chapters/10_finetuning/chat_template.h"

#include "common/error.h"

namespace gpt2 {

int end_of_turn_id(const Tokenizer& tok) {
  GPT2_CHECK(tok.eot_id() >= 0, "the tokenizer has no ", kEndOfText,
             " token, which the chat template ends every answer with");
  return tok.eot_id();
}

std::string chat_prompt_text(std::string_view instruction, std::string_view input) {
  std::string text(kInstructionMarker);
  text += instruction;
  if (!input.empty()) {
    text += kInputMarker;
    text += input;
  }
  text += kResponseMarker;
  return text;
}

std::vector<int> encode_chat_prompt(const Tokenizer& tok, std::string_view instruction,
                                    std::string_view input) {
  std::vector<int> ids;
  tok.encode_append(kInstructionMarker, ids);
  tok.encode_append(instruction, ids);
  if (!input.empty()) {
    tok.encode_append(kInputMarker, ids);
    tok.encode_append(input, ids);
  }
  tok.encode_append(kResponseMarker, ids);
  return ids;
}

SftExample encode_sft_example(const Tokenizer& tok, const InstructionExample& example) {
  SftExample e;
  e.tokens = encode_chat_prompt(tok, example.instruction, example.input);
  e.assistant.assign(e.tokens.size(), 0);
  tok.encode_append(example.output, e.tokens);
  e.tokens.push_back(end_of_turn_id(tok));
  e.assistant.resize(e.tokens.size(), 1);  // the answer and its end-of-turn token
  return e;
}

void Conversation::set_system(std::string_view text) {
  GPT2_CHECK(turn_start_.empty(), "Conversation: the system message comes before the first turn");
  tokens_.clear();
  if (!text.empty()) {
    tok_->encode_append(text, tokens_);
    tok_->encode_append("\n\n", tokens_);
  }
  system_ = tokens_.size();
}

int Conversation::add_user(std::string_view message) {
  const size_t before = tokens_.size();
  turn_start_.push_back(before);
  const std::vector<int> prompt = encode_chat_prompt(*tok_, message, "");
  tokens_.insert(tokens_.end(), prompt.begin(), prompt.end());
  return static_cast<int>(tokens_.size() - before);
}

void Conversation::add_assistant(std::span<const int> answer) {
  GPT2_CHECK(!turn_start_.empty(), "Conversation: an answer needs a user turn before it");
  tokens_.insert(tokens_.end(), answer.begin(), answer.end());
  if (answer.empty() || answer.back() != eot_) tokens_.push_back(eot_);
}

int Conversation::fit(int max_tokens) {
  // The last turn must fit alone; otherwise nothing is dropped.
  const size_t last = turn_start_.empty() ? 0 : tokens_.size() - turn_start_.back();
  GPT2_CHECK(static_cast<int64_t>(last) <= max_tokens, "the message takes ", last,
             " tokens with the template, more than the context of ", max_tokens, " tokens leaves for it");
  int dropped = 0;
  GPT2_CHECK(static_cast<int64_t>(system_ + last) <= max_tokens,
             "the system message and the last message take ", system_ + last,
             " tokens with the template, more than the context of ", max_tokens, " tokens");
  while (static_cast<int64_t>(tokens_.size()) > max_tokens && turn_start_.size() > 1) {
    // Drop the oldest turn: everything from its start (after the system message) to turn 1's.
    const size_t cut = turn_start_[1] - turn_start_[0];
    tokens_.erase(tokens_.begin() + static_cast<std::ptrdiff_t>(turn_start_[0]),
                  tokens_.begin() + static_cast<std::ptrdiff_t>(turn_start_[1]));
    turn_start_.erase(turn_start_.begin());
    for (size_t& s : turn_start_) s -= cut;
    ++dropped;
  }
  return dropped;
}

void Conversation::remove_last_turn() {
  if (turn_start_.empty()) return;
  tokens_.resize(turn_start_.back());
  turn_start_.pop_back();
}

void Conversation::reset() {
  tokens_.resize(system_);
  turn_start_.clear();
}

}  // namespace gpt2
