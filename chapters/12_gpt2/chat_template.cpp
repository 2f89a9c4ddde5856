// The chat template: see chat_template.h.
#include "chapters/12_gpt2/chat_template.h"

namespace gpt2 {

bool is_chat_role(std::string_view role) {
  return role == "system" || role == "user" || role == "assistant";
}

std::vector<int> chat_prompt(std::span<const ChatMessage> messages,
                             const std::function<std::vector<int>(std::string_view)>& encode,
                             int end_of_turn) {
  std::vector<int> ids;
  auto append = [&](std::string_view text) {
    const std::vector<int> part = encode(text);
    ids.insert(ids.end(), part.begin(), part.end());
  };
  for (const ChatMessage& m : messages) {
    append("<|" + m.role + "|>\n");
    append(m.content);
    if (end_of_turn >= 0) ids.push_back(end_of_turn);
    append("\n");
  }
  append("<|assistant|>\n");
  return ids;
}

std::vector<std::string> chat_stop_strings() {
  return {"<|user|>", "<|system|>"};
}

std::string chat_template_description() {
  return "<|system|>\\n{system}<|endoftext|>\\n<|user|>\\n{user}<|endoftext|>\\n<|assistant|>\\n{reply}"
         "<|endoftext|>\\n ... <|assistant|>\\n";
}

}  // namespace gpt2
