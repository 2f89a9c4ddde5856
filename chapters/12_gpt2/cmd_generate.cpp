// gpt2 generate: text from a model directory, streamed as it is sampled (chapter 07).
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "chapters/07_sampling/generate.h"
#include "chapters/07_sampling/utf8_stream.h"
#include "chapters/12_gpt2/adapter_option.h"
#include "chapters/12_gpt2/args.h"
#include "chapters/12_gpt2/commands.h"
#include "chapters/12_gpt2/model_dir.h"
#include "common/error.h"
#include "common/file_io.h"

namespace gpt2 {

namespace {

int cmd_generate(std::span<const std::string> args, CommandIO io) {
  ArgParser p("gpt2 generate",
              "Continues a prompt with a model, printing the text as it is generated. Sampling draws from\n"
              "softmax(logits / temperature), restricted to the --top-k most probable tokens and then to\n"
              "the smallest set with probability >= --top-p (chapter 07); --greedy takes the most probable\n"
              "token every time. Generation stops at <|endoftext|> (unless --no-stop) or after\n"
              "--max-new-tokens. An empty prompt starts from <|endoftext|>, as GPT-2's unconditional\n"
              "samples do. Past the context, a sliding window keeps the last half of it.");
  p.option("--model", "DIR",
           "model directory (config.json, model.safetensors, vocab.json, merges.txt), or "
           "a downloaded model's name such as gpt2",
           "", true);
  p.option("--prompt", "TEXT", "the text to continue", "");
  p.option("--prompt-file", "FILE", "read the prompt from a file instead");
  p.option("--max-new-tokens", "N", "tokens to generate at most", "100");
  p.option("--temperature", "T", "softmax temperature, > 0 (0 means greedy)", "1.0");
  p.option("--top-k", "K", "keep the K most probable tokens (0: all)", "0");
  p.option("--top-p", "P", "keep the smallest set with probability >= P, in (0, 1]", "1.0");
  p.option("--seed", "N", "random seed: the same seed gives the same text", "1337");
  p.flag("--greedy", "always take the most probable token");
  p.flag("--no-stop", "do not stop at <|endoftext|>");
  add_inference_options(p);
  add_adapter_option(p);
  p.flag("--json",
         "print {\"prompt_tokens\": [...], \"tokens\": [...], \"text\": \"...\", \"tokens_per_sec\": ..., "
         "\"prefill_seconds\": ...} instead of streaming");
  p.flag("--stats", "print the prefill and decode speed on stderr");
  if (!p.parse(args, io.out)) return 0;
  GPT2_CHECK(!(p.given("--prompt") && p.given("--prompt-file")),
             "gpt2 generate: give --prompt or --prompt-file, not both");

  GenerateOptions options;
  options.max_new_tokens = static_cast<int>(p.get_int("--max-new-tokens", 0, 1 << 24));
  options.temperature = static_cast<float>(p.get_double("--temperature", 0.0, 1e6));
  options.top_k = static_cast<int>(p.get_int("--top-k", 0, 1 << 30));
  options.top_p = static_cast<float>(p.get_double("--top-p", 0.0, 1.0));
  GPT2_CHECK(options.top_p > 0, "gpt2 generate: option '--top-p' must be in (0, 1], got 0");
  options.seed = static_cast<uint64_t>(p.get_int("--seed", 0, INT64_MAX));
  options.greedy = p.given("--greedy");
  const std::string prompt = p.given("--prompt-file") ? read_file(p.get("--prompt-file")) : p.get("--prompt");

  LoadedModel m = load_model(p.get("--model"), generation_options(p));
  const std::unique_ptr<LoraModel> adapter = apply_adapter_option(p, m);  // --adapter: LoRA, unmerged
  const Tokenizer& tok = *m.tokenizer;
  options.eot_token = tok.eot_id();
  options.stop_at_eot = !p.given("--no-stop") && tok.eot_id() >= 0;

  std::vector<int> prompt_ids = tok.encode(prompt);
  if (prompt_ids.empty()) {
    GPT2_CHECK(tok.eot_id() >= 0,
               "gpt2 generate: the prompt is empty and the tokenizer has no <|endoftext|> "
               "token to start from; give a --prompt");
    prompt_ids.push_back(tok.eot_id());
  }
  GPT2_CHECK(static_cast<int>(prompt_ids.size()) <= m.model->config().n_positions,
             "gpt2 generate: the prompt is ", prompt_ids.size(), " tokens long but the model's context is ",
             m.model->config().n_positions, " tokens; shorten the prompt");

  const bool json = p.given("--json");
  Utf8Stream stream;
  if (!json) {
    // Echo the prompt, then stream each token's bytes as it comes (never half a character).
    io.out << prompt;
    io.out.flush();
  }
  // Prefill and decode on the chosen backend, the KV cache in its memory (chapter 07).
  const Generation g = generate(*m.model, prompt_ids, options, [&](int token, std::span<const float>) {
    if (json) return true;
    io.out << stream.push(tok.token_bytes(token));
    io.out.flush();
    return true;
  });
  if (json) {
    nlohmann::json j = {{"prompt_tokens", prompt_ids},
                        {"tokens", g.tokens},
                        {"text", tok.decode(g.tokens)},
                        {"weights", weight_format_name(m.weights)},
                        {"prefill_seconds", g.prefill_seconds},
                        {"decode_seconds", g.decode_seconds},
                        {"tokens_per_sec", g.decode_tokens_per_second()}};
    // Generated bytes need not be valid UTF-8 (a token can end inside a character): replace
    // invalid sequences with U+FFFD instead of failing.
    io.out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    io.out << stream.flush() << "\n";
  }
  if (p.given("--stats")) {
    char line[200];
    std::snprintf(line, sizeof line, "prompt %zu tokens: prefill %.3f s; %d new tokens: %.1f tokens/s%s%s\n",
                  prompt_ids.size(), g.prefill_seconds, static_cast<int>(g.tokens.size()),
                  g.decode_tokens_per_second(), weights_note(m.weights).c_str(),
                  g.stopped_at_eot ? " (stopped at <|endoftext|>)" : "");
    io.err << line;
  }
  return 0;
}

}  // namespace

void register_generate_commands(std::vector<Command>& commands) {
  commands.push_back({{"generate"}, "continue a prompt with a model (streams the text)", cmd_generate});
}

}  // namespace gpt2
