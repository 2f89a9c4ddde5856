// ch07_demo: text from a model, streamed token by token, and what the sampling filters keep.
//
//   ./build/bin/ch07_demo --model DIR --prompt "To be, or not to be" --temperature 0.8 --top-k 40
//   ./build/bin/ch07_demo                      # no model: a small random one with GPT-2's tokenizer
//
// DIR is a Hugging Face model directory (config.json, model.safetensors and the tokenizer files),
// e.g. one that chapter 06 / `gpt2 train` saved. Without --model the text is gibberish (the weights
// are random), but the streaming and the filters work the same way.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "chapters/01_tokenizer/tokenizer.h"
#include "chapters/05_gpt2_model/gpt2.h"
#include "chapters/07_sampling/generate.h"
#include "chapters/07_sampling/utf8_stream.h"
#include "common/error.h"
#include "common/testing.h"

namespace {

struct Args {
  std::string model_dir;
  std::string prompt = "The meaning of life is";
  gpt2::GenerateOptions options{.max_new_tokens = 40, .temperature = 0.8f, .top_k = 40, .top_p = 0.95f};
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--greedy") {
      a.options.greedy = true;
      continue;
    }
    GPT2_CHECK(i + 1 < argc, flag, " needs a value (try --help)");
    const std::string value = argv[++i];
    if (flag == "--model") {
      a.model_dir = value;
    } else if (flag == "--prompt") {
      a.prompt = value;
    } else if (flag == "--max-new-tokens") {
      a.options.max_new_tokens = std::stoi(value);
    } else if (flag == "--temperature") {
      a.options.temperature = std::stof(value);
    } else if (flag == "--top-k") {
      a.options.top_k = std::stoi(value);
    } else if (flag == "--top-p") {
      a.options.top_p = std::stof(value);
    } else if (flag == "--seed") {
      a.options.seed = std::stoull(value);
    } else {
      gpt2::fail("unknown flag '", flag, "'");
    }
  }
  return a;
}

// How many tokens each stage of the sampler keeps for this row of logits, and the top five.
void show_filters(std::span<const float> logits, const gpt2::GenerateOptions& o, const gpt2::Tokenizer& tok) {
  std::vector<gpt2::Candidate> c = gpt2::softmax_candidates(logits, o.temperature > 0 ? o.temperature : 1.0f);
  const size_t all = c.size();
  gpt2::keep_top_k(c, o.top_k);
  const size_t after_k = c.size();
  gpt2::keep_top_p(c, o.top_p);
  std::printf("next-token distribution: %zu tokens, %zu after top-k = %d, %zu after top-p = %.2f\n", all,
              after_k, o.top_k, c.size(), o.top_p);
  std::sort(c.begin(), c.end(), gpt2::more_probable);
  for (size_t i = 0; i < c.size() && i < 5; ++i) {
    std::printf("  %6.2f%%  %-8d '%s'\n", 100.0 * c[i].prob, c[i].id,
                std::string(tok.token_bytes(c[i].id)).c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::printf(
        "usage: ch07_demo [--model DIR] [--prompt TEXT] [--max-new-tokens N] [--temperature T] [--top-k K]\n"
        "                 [--top-p P] [--seed S] [--greedy]\n");
    return 0;
  }
  try {
    const Args args = parse(argc, argv);
    gpt2::CpuBackend cpu;
    const std::string tokenizer_dir = args.model_dir.empty() ? gpt2::data_dir() + "/gpt2" : args.model_dir;
    const gpt2::Tokenizer tok = gpt2::Tokenizer::load(tokenizer_dir);
    gpt2::GPT2 model = args.model_dir.empty() ? gpt2::GPT2(gpt2::GPT2Config::make(2, 4, 64, 128, 50257), cpu)
                                              : gpt2::GPT2::load(args.model_dir, cpu);
    if (args.model_dir.empty()) {
      model.init_random(1337);
      std::printf("(no --model: a random 2-layer model with GPT-2's tokenizer, so expect gibberish)\n");
    }
    gpt2::GenerateOptions options = args.options;
    options.eot_token = tok.eot_id();
    const std::vector<int> prompt = tok.encode(args.prompt);

    gpt2::KVCache cache(model.config(), cpu);
    GPT2_CHECK(!prompt.empty(), "--prompt: the prompt is empty");
    show_filters(model.forward(cache, prompt.data(), 1, static_cast<int>(prompt.size())), options, tok);

    // Stream: each token's bytes go through the UTF-8 buffer, so a character split over two
    // tokens is printed once it is whole.
    std::printf("\n%s", args.prompt.c_str());
    gpt2::Utf8Stream stream;
    const gpt2::Generation g =
        gpt2::generate(model, cache, prompt, options, [&](int id, std::span<const float>) {
          std::cout << stream.push(tok.token_bytes(id)) << std::flush;
          return true;
        });
    std::cout << stream.flush() << "\n\n";
    std::printf("%zu tokens%s; prompt %zu tokens in %.3f s, then %.1f tokens/s\n", g.tokens.size(),
                g.stopped_at_eot ? " (stopped at <|endoftext|>)" : "", prompt.size(), g.prefill_seconds,
                g.decode_tokens_per_second());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ch07_demo: %s\n", e.what());
    return 1;
  }
}
