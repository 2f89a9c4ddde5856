// gpt2 chat: a multi-turn conversation with an instruction-tuned model (chapter 10's template),
// the KV cache kept from turn to turn so that only the new turn is read.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "chapters/05_gpt2_model/kv_cache.h"
#include "chapters/07_sampling/generate.h"
#include "chapters/10_finetuning/chat_template.h"
#include "chapters/10_finetuning/jsonl.h"
#include "chapters/12_gpt2/adapter_option.h"
#include "chapters/12_gpt2/args.h"
#include "chapters/12_gpt2/chat_template.h"
#include "chapters/12_gpt2/commands.h"
#include "chapters/12_gpt2/model_dir.h"
#include "chapters/12_gpt2/serve_api.h"
#include "common/error.h"

namespace gpt2 {

namespace {

// "  a text \n" -> "a text": answers are compared without the spaces around them.
std::string trimmed(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  const size_t b = s.find_last_not_of(" \t\r\n");
  return s.substr(a, b - a + 1);
}

// --eval FILE: every instruction answered greedily on its own, the share of exact answers.
int chat_eval(const ArgParser& p, LoadedModel& m, GenerateOptions options, CommandIO io) {
  const std::string file = p.get("--eval");
  const std::vector<InstructionExample> examples = read_instruction_data(file);
  const Tokenizer& tok = *m.tokenizer;
  options.greedy = true;
  options.continue_cache = false;
  KVCache cache(m.model->config(), m.model->backend());
  int exact = 0, too_long = 0;
  for (const InstructionExample& e : examples) {
    const std::vector<int> prompt = encode_chat_prompt(tok, e.instruction, e.input);
    if (static_cast<int>(prompt.size()) >= cache.capacity()) {
      ++too_long;  // counted as wrong: the model cannot read the question
      continue;
    }
    const Generation g = generate(*m.model, cache, prompt, options);
    exact += trimmed(tok.decode(g.tokens)) == trimmed(e.output);
  }
  const double share = static_cast<double>(exact) / static_cast<double>(examples.size());
  if (p.given("--json")) {
    io.out << nlohmann::json{{"examples", examples.size()},
                             {"exact", exact},
                             {"exact_match", share},
                             {"prompt_too_long", too_long}}
                  .dump()
           << "\n";
  } else {
    char line[160];
    std::snprintf(line, sizeof line, "exact match %.4f (%d of %zu) on %s\n", share, exact, examples.size(),
                  file.c_str());
    io.out << line;
    if (too_long > 0) io.out << too_long << " prompt(s) longer than the context counted as wrong\n";
  }
  return 0;
}

int cmd_chat(std::span<const std::string> args, CommandIO io) {
  ArgParser p("gpt2 chat",
              "A conversation with a model fine-tuned by 'gpt2 finetune --task sft' (chapter 10's chat\n"
              "template). Each line on stdin is a message; the answer is streamed as it is generated and\n"
              "ends at <|endoftext|> (or at a new '### Instruction:', or after --max-new-tokens). The\n"
              "conversation stays in the KV cache, so each turn reads only its own new tokens. '/reset'\n"
              "forgets the conversation, '/quit' (or the end of stdin) ends the chat. When the context is\n"
              "full, the oldest turns are dropped (the system message stays) and the rest is read again.\n"
              "With --eval FILE, answers every instruction of a JSONL file greedily instead and prints\n"
              "the share of exact answers.");
  p.option("--model", "DIR",
           "an instruction-tuned model directory (RUN_DIR/model of gpt2 finetune --task sft)", "", true);
  add_adapter_option(p);
  p.option("--system", "TEXT", "a system message written before the conversation");
  p.option("--max-new-tokens", "N", "the longest answer, in tokens", "200");
  p.option("--temperature", "T", "softmax temperature, > 0 (0 means greedy)", "0.7");
  p.option("--top-k", "K", "keep the K most probable tokens (0: all)", "40");
  p.option("--seed", "N", "random seed of the first answer (then seed + 1, ...)", "1337");
  p.flag("--greedy", "always take the most probable token");
  p.option("--eval", "FILE",
           "instruction examples (JSONL) to measure exact-match accuracy on, instead of chatting");
  add_inference_options(p);
  p.flag("--stats", "after each answer, print on stderr how many tokens the model read and generated");
  p.flag("--json", "with --eval: print {\"examples\": N, \"exact\": E, \"exact_match\": share}");
  if (!p.parse(args, io.out)) return 0;
  GenerateOptions options;
  options.max_new_tokens = static_cast<int>(p.get_int("--max-new-tokens", 1, 1 << 20));
  options.temperature = static_cast<float>(p.get_double("--temperature", 0.0, 1e6));
  options.top_k = static_cast<int>(p.get_int("--top-k", 0, 1 << 30));
  options.seed = static_cast<uint64_t>(p.get_int("--seed", 0, INT64_MAX));
  options.greedy = p.given("--greedy");

  LoadedModel m = load_model(p.get("--model"), generation_options(p));
  const std::unique_ptr<LoraModel> adapter = apply_adapter_option(p, m);
  const Tokenizer& tok = *m.tokenizer;
  options.eot_token = end_of_turn_id(tok);  // (throws for a tokenizer without <|endoftext|>)
  options.stop_at_eot = true;
  if (p.given("--eval")) return chat_eval(p, m, options, io);

  Conversation conversation(tok);
  if (p.given("--system")) conversation.set_system(p.get("--system"));
  KVCache cache(m.model->config(), m.model->backend());
  const int capacity = cache.capacity();
  // Room kept for the answer when the oldest turns are dropped: the longest answer, up to half
  // the context (the conversation keeps the other half).
  const int room = std::min(options.max_new_tokens, capacity / 2);
  options.continue_cache = true;
  const bool terminal = isatty(fileno(stdin)) && &io.in == &std::cin;
  int turn = 0;
  std::string line;
  while (true) {
    if (terminal) io.err << "> " << std::flush;
    if (!std::getline(io.in, line)) break;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line == "/quit" || line == "/exit") break;
    if (line == "/reset") {
      conversation.reset();
      cache.clear();
      io.err << "[conversation cleared]\n";
      continue;
    }
    if (line.empty()) continue;
    conversation.add_user(line);
    int dropped = 0;
    try {
      dropped = conversation.fit(capacity - room);
    } catch (const Error& e) {
      conversation.remove_last_turn();
      io.err << "[" << e.what() << "; the message was not sent]\n";
      continue;
    }
    if (dropped > 0) {
      // Every remaining token moved to a new position: the cache must be computed again.
      io.err << "[the context of " << capacity << " tokens is full: dropped the oldest " << dropped
             << " turn(s)]\n";
      cache.clear();
    }
    // The cache holds the conversation's first cache.size() tokens: the model reads the rest.
    const std::vector<int>& tokens = conversation.tokens();
    const std::span<const int> fresh(tokens.data() + cache.size(), tokens.size() - cache.size());
    options.seed = static_cast<uint64_t>(p.get_int("--seed", 0, INT64_MAX)) + static_cast<uint64_t>(turn++);
    StopTextStream stream(chat_stop_strings());
    const Generation g = generate(*m.model, cache, fresh, options, [&](int id, std::span<const float>) {
      io.out << stream.push(tok.token_bytes(id));
      io.out.flush();
      return !stream.stopped();
    });
    io.out << stream.flush() << "\n";
    io.out.flush();
    if (g.context_full)
      io.err << "[the context of " << capacity
             << " tokens is full: the answer was cut; the next message drops the oldest turns]\n";
    if (p.given("--stats"))
      io.err << "[read " << fresh.size() << " new tokens after " << tokens.size() - fresh.size()
             << " cached; generated " << g.tokens.size() << "]\n";
    conversation.add_assistant(g.tokens);
  }
  return 0;
}

}  // namespace

void register_chat_commands(std::vector<Command>& commands) {
  commands.push_back({{"chat"}, "chat with an instruction-tuned model (multi-turn, streamed)", cmd_chat});
}

}  // namespace gpt2
