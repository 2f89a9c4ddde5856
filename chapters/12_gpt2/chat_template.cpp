// The chat template of gpt2 serve, chapter 10's: see chat_template.h.
#include "chapters/12_gpt2/chat_template.h"

#include "chapters/10_finetuning/chat_template.h"
#include "common/error.h"

namespace gpt2 {

bool is_chat_role(std::string_view role) {
  return role == "system" || role == "user" || role == "assistant";
}

std::pair<std::string, size_t> chat_order_problem(std::span<const ChatMessage> messages) {
  if (messages.empty()) return {"there is no message", 0};
  bool turns_started = false;
  std::string_view previous;
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string& role = messages[i].role;
    if (role == "system") {
      if (turns_started)
        return {"a system message can only come before the conversation (the template writes it first)", i};
      continue;
    }
    if (role == "user" && previous == "user")
      return {"two user messages in a row (an assistant answer is missing)", i};
    if (role == "assistant" && previous != "user")
      return {"an assistant message must answer a user message", i};
    turns_started = true;
    previous = role;
  }
  if (previous != "user")
    return {"the last message must be the user's: the model answers it", messages.size() - 1};
  return {"", 0};
}

std::vector<int> chat_prompt(std::span<const ChatMessage> messages, const Tokenizer& tok) {
  const auto [problem, at] = chat_order_problem(messages);
  GPT2_CHECK(problem.empty(), "chat: message ", at, ": ", problem);
  Conversation conversation(tok);
  std::string system;
  for (const ChatMessage& m : messages) {
    if (m.role == "system") {
      system += (system.empty() ? "" : "\n\n") + m.content;
      continue;
    }
    if (!system.empty()) {
      conversation.set_system(system);
      system.clear();
    }
    if (m.role == "user") {
      conversation.add_user(m.content);
    } else {
      conversation.add_assistant(tok.encode(m.content));
    }
  }
  return conversation.tokens();
}

std::vector<std::string> chat_stop_strings() {
  return {std::string(kInstructionMarker.substr(0, kInstructionMarker.size() - 1))};  // "### Instruction:"
}

std::string chat_template_description() {
  return "{system}\\n\\n### Instruction:\\n{user}\\n\\n### Response:\\n{reply}<|endoftext|>### "
         "Instruction:\\n{user}"
         "\\n\\n### Response:\\n ...";
}

}  // namespace gpt2
