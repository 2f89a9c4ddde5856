// ch07_bench: generation speed of a GPT-2 124M-sized model (random weights) with and without the
// KV cache, on chapter 05's plain CpuBackend (the loops this course teaches, one thread; chapter
// 08's bench times the same generation on the fast kernels).
//
//   ./build/bin/ch07_bench                      # prompts of 16 and 128 tokens, 16 new tokens
//   ./build/bin/ch07_bench --new-tokens 8 --prompts 16,64,256 --repeat 3
//
// With the cache, each new token runs every weight matrix once, on one row: about 2 P flops for
// P parameters, whatever the length of the text. Without the cache, each token recomputes the
// whole context: its cost grows with the prompt (2 P t flops for t tokens, plus the attention).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "chapters/05_gpt2_model/gpt2.h"
#include "chapters/07_sampling/generate.h"
#include "common/error.h"
#include "common/rng.h"
#include "common/timer.h"

namespace {

struct Args {
  int new_tokens = 16;
  std::vector<int> prompts = {16, 128};
  int no_cache_steps = 2;
  int repeat = 1;  // report the best of this many runs (other programs on the machine only slow us down)
};

std::vector<int> parse_list(const std::string& s) {
  std::vector<int> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(std::stoi(item));
  return out;
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> std::string {
      GPT2_CHECK(i + 1 < argc, flag, " needs a value");
      return argv[++i];
    };
    if (flag == "--new-tokens") {
      a.new_tokens = std::stoi(value());
    } else if (flag == "--prompts") {
      a.prompts = parse_list(value());
    } else if (flag == "--no-cache-steps") {
      a.no_cache_steps = std::stoi(value());
    } else if (flag == "--repeat") {
      a.repeat = std::stoi(value());
    } else if (flag == "--help" || flag == "-h") {
      std::printf(
          "usage: ch07_bench [--new-tokens N=16] [--prompts 16,128] [--no-cache-steps N=2] [--repeat N=1]\n"
          "Generation tokens/s of a GPT-2 124M-sized model (random weights) with and without the KV cache,\n"
          "on chapter 05's plain loops. Reports the best of --repeat runs of each measurement.\n");
      std::exit(0);
    } else {
      gpt2::fail("unknown flag '", flag, "' (try --help)");
    }
  }
  GPT2_CHECK(a.new_tokens > 1 && a.no_cache_steps > 0 && a.repeat > 0, "counts must be positive");
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args args = parse(argc, argv);
    gpt2::CpuBackend backend;
    const gpt2::GPT2Config config = gpt2::GPT2Config::from_name("gpt2");
    gpt2::GPT2 model(config, backend);
    model.init_random(1337);
    std::printf("GPT-2 124M-sized model (%s), %lld parameters, random weights, backend '%s'\n\n",
                gpt2::to_string(config).c_str(), static_cast<long long>(model.num_parameters()),
                backend.name().c_str());
    std::printf("| prompt | KV cache | prefill s | tokens/s | ms/token |\n");
    std::printf("|-------:|:---------|----------:|---------:|---------:|\n");

    gpt2::Rng rng(7);
    gpt2::KVCache cache(config, backend);
    for (int prompt_len : args.prompts) {
      GPT2_CHECK(prompt_len > 0 && prompt_len + args.new_tokens <= config.n_positions, "a prompt of ",
                 prompt_len, " tokens plus ", args.new_tokens, " new ones does not fit the context of ",
                 config.n_positions);
      std::vector<int> prompt(static_cast<size_t>(prompt_len));
      for (int& t : prompt) t = static_cast<int>(rng.below(config.vocab_size));

      // With the cache: prefill once, then one position per token.
      const gpt2::GenerateOptions options{
          .max_new_tokens = args.new_tokens, .greedy = true, .stop_at_eot = false};
      double prefill = 1e30, with_cache = 0;
      for (int rep = 0; rep < args.repeat; ++rep) {
        const gpt2::Generation g = gpt2::generate(model, cache, prompt, options);
        prefill = std::min(prefill, g.prefill_seconds);
        with_cache = std::max(with_cache, g.decode_tokens_per_second());
      }
      std::printf("| %6d | yes      | %9.3f | %8.2f | %8.1f |\n", prompt_len, prefill, with_cache,
                  1e3 / with_cache);
      std::fflush(stdout);

      // Without: every token runs the whole context (prompt + tokens so far) through the model again
      // (a fresh prefill each time: the same work as a forward pass without a cache, and like the
      // cached steps only the last position's logits).
      double best_step = 1e30;
      for (int rep = 0; rep < args.repeat; ++rep) {
        std::vector<int> context = prompt;
        gpt2::Timer timer;
        for (int step = 0; step < args.no_cache_steps; ++step) {
          cache.clear();
          context.push_back(
              gpt2::argmax(model.forward(cache, context.data(), 1, static_cast<int>(context.size()))));
        }
        best_step = std::min(best_step, timer.seconds() / args.no_cache_steps);
      }
      std::printf("| %6d | no       | %9s | %8.2f | %8.1f |\n", prompt_len, "-", 1.0 / best_step,
                  1e3 * best_step);
      std::fflush(stdout);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ch07_bench: %s\n", e.what());
    return 1;
  }
}
