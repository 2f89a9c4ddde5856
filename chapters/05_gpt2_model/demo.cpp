// ch05_demo: the whole GPT-2.
//
//   ch05_demo                        logits of a tiny random GPT-2, and the memory report of GPT-2 124M
//   ch05_demo --memory NAME B T      the memory report of a named model (gpt2, gpt2-medium, ...)
//   ch05_demo --memory NAME B T --allocate
//                                    ... then allocates all of it and prints the peak resident memory
//   ch05_demo --model DIR [--prompt TEXT] [--steps N]
//                                    GPT-2's own next-token predictions (weights from
//                                    scripts/download_gpt2.sh) and N greedy tokens
//   ch05_demo --save DIR             writes the tiny random model as a Hugging Face directory and
//                                    prints its loss on the fixture's tokens (for
//                                    tests/reference/05_model.py --check DIR --expect LOSS)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include "chapters/01_tokenizer/tokenizer.h"
#include "chapters/05_gpt2_model/gpt2.h"
#include "chapters/05_gpt2_model/hf_checkpoint.h"
#include "common/error.h"
#include "common/safetensors.h"
#include "common/testing.h"
#include "common/timer.h"

namespace fs = std::filesystem;

namespace {

// The largest resident set size so far, from /proc (Linux); -1 elsewhere.
double peak_rss_mib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return -1;
}

void memory(const std::string& name, int B, int T, bool allocate) {
  gpt2::GPT2Config config = gpt2::GPT2Config::from_name(name);
  gpt2::MemoryReport r = gpt2::memory_report(config, B, T);
  std::printf("%s", r.to_string().c_str());
  if (!allocate) return;
  auto mib = [](int64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); };
  const double before = peak_rss_mib();  // the program itself
  gpt2::CpuBackend cpu;
  gpt2::GPT2 model(config, cpu);  // inference mode: parameters only
  {
    gpt2::KVCache cache(config, cpu, B, T);
    model.reserve(cache, T);  // the arena of a prefill of T tokens
    std::printf(
        "generation: allocated and zeroed the parameters, the KV cache and the arena: %.1f MiB "
        "(report: %.1f MiB)\n",
        peak_rss_mib() - before, mib(r.inference_bytes()));
  }
  model.set_mode(gpt2::GPT2::Mode::training);  // the gradients
  model.reserve(B, T);                         // every block's activations and the backward scratch
  gpt2::Tensor m({model.num_parameters()}), v({model.num_parameters()});  // what AdamW will hold
  std::printf("training:   allocated and zeroed all of it: peak %.1f MiB (report: %.1f MiB)\n",
              peak_rss_mib() - before, mib(r.training_bytes()));
}

// The configuration of the parity tests: 2 layers, 4 heads, 64 channels, context 32, 97 tokens.
gpt2::GPT2Config tiny() {
  return gpt2::GPT2Config::make(2, 4, 64, 32, 97);
}

void tiny_demo() {
  gpt2::CpuBackend cpu;
  gpt2::GPT2 model(tiny(), cpu);
  model.init_random(1337);
  model.set_mode(gpt2::GPT2::Mode::training);  // the gradients, for the backward pass below
  std::printf("a tiny random GPT-2 (%s): %lld parameters\n", gpt2::to_string(model.config()).c_str(),
              static_cast<long long>(model.num_parameters()));
  std::vector<int> tokens = {5, 17, 42, 8, 96, 0, 33, 61};
  std::vector<int> targets(tokens.begin() + 1, tokens.end());
  targets.push_back(12);
  const int T = static_cast<int>(tokens.size()), V = model.config().vocab_size;
  float loss = model.forward(tokens.data(), targets.data(), 1, T);
  auto logits = model.logits();
  for (int t = 0; t < 3; ++t) {
    std::printf("  position %d (token %2d): logits[0:6] =", t, tokens[static_cast<size_t>(t)]);
    for (int v = 0; v < 6; ++v) std::printf(" %+.4f", logits[static_cast<size_t>(t * V + v)]);
    std::printf(" ...\n");
  }
  std::printf("  loss %.4f (an untrained model guesses uniformly: ln(%d) = %.4f)\n", loss, V, std::log(V));
  model.zero_grad();
  model.backward();
  double norm = 0;
  for (float g : model.grads()) norm += static_cast<double>(g) * g;
  std::printf("  gradient norm %.4f over %lld parameters\n\n", std::sqrt(norm),
              static_cast<long long>(model.num_parameters()));
  memory("gpt2", 4, 64, false);
}

void save_tiny(const fs::path& dir) {
  gpt2::CpuBackend cpu;
  gpt2::GPT2 model(tiny(), cpu);
  model.init_random(1337);
  auto fx = gpt2::SafetensorsFile::open(fs::path(gpt2::fixture_dir()) / "05_model.safetensors");
  std::vector<int64_t> tok = fx.get_int("tokens"), tgt = fx.get_int("targets");
  std::vector<int> tokens(tok.begin(), tok.end()), targets(tgt.begin(), tgt.end());
  float loss = model.forward(tokens.data(), targets.data(), 2, 32);
  model.save(dir, fs::path(gpt2::data_dir()) / "gpt2");
  std::printf("wrote %s; its loss on the fixture tokens is %.9g\n", dir.string().c_str(), loss);
  std::printf("check: /usr/bin/python3 tests/reference/05_model.py --check %s --expect %.9g\n",
              dir.string().c_str(), loss);
}

void predict(const fs::path& dir, const std::string& prompt, int steps) {
  gpt2::Timer timer;
  gpt2::CpuBackend cpu;
  gpt2::GPT2 model = gpt2::GPT2::load(dir, cpu);
  fs::path tokenizer_dir = gpt2::has_tokenizer_files(dir) ? dir : fs::path(gpt2::data_dir()) / "gpt2";
  gpt2::Tokenizer tok = gpt2::Tokenizer::load(tokenizer_dir);
  std::printf("loaded %s (%s, %lld parameters) in %.1f s\n", dir.string().c_str(),
              gpt2::to_string(model.config()).c_str(), static_cast<long long>(model.num_parameters()),
              timer.seconds());
  std::vector<int> ids = tok.encode(prompt);
  GPT2_CHECK(!ids.empty(), "--prompt: the prompt is empty");
  const int V = model.config().vocab_size;
  std::printf("prompt: \"%s\" -> %zu tokens\n", prompt.c_str(), ids.size());
  for (int step = 0; step < steps; ++step) {
    // Keep the last n_positions tokens (the model's context).
    int T = std::min<int>(static_cast<int>(ids.size()), model.config().n_positions);
    timer.reset();
    model.forward(ids.data() + ids.size() - T, nullptr, 1, T);
    std::span<const float> last =
        model.logits().subspan(static_cast<size_t>(T - 1) * V, static_cast<size_t>(V));
    // Softmax of the last position, for probabilities.
    float mx = *std::max_element(last.begin(), last.end());
    double z = 0;
    for (float x : last) z += std::exp(static_cast<double>(x) - mx);
    std::vector<int> order(static_cast<size_t>(V));
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + 5, order.end(), [&](int a, int b) {
      return last[static_cast<size_t>(a)] > last[static_cast<size_t>(b)];
    });
    if (step == 0) {
      std::printf("GPT-2's top 5 next tokens:\n");
      for (int k = 0; k < 5; ++k) {
        int id = order[static_cast<size_t>(k)];
        double p = std::exp(static_cast<double>(last[static_cast<size_t>(id)]) - mx) / z;
        std::printf("  %5.1f%%  %6d  \"%s\"\n", 100 * p, id, tok.decode(std::vector<int>{id}).c_str());
      }
      std::printf("greedy continuation (%.2f s per token, plain loops, no KV cache):\n%s", timer.seconds(),
                  prompt.c_str());
    }
    ids.push_back(order[0]);
    std::printf("%s", tok.decode(std::vector<int>{order[0]}).c_str());
    std::fflush(stdout);
  }
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::vector<std::string> args(argv + 1, argv + argc);
    auto value = [&](const std::string& flag, const std::string& fallback) {
      auto it = std::find(args.begin(), args.end(), flag);
      if (it == args.end()) return fallback;
      GPT2_CHECK(it + 1 != args.end(), flag, ": needs a value");
      return *(it + 1);
    };
    auto has = [&](const std::string& flag) {
      return std::find(args.begin(), args.end(), flag) != args.end();
    };
    if (has("--help") || has("-h")) {
      std::printf(
          "usage: ch05_demo                         tiny random model, memory report of GPT-2 124M\n"
          "       ch05_demo --memory NAME B T [--allocate]\n"
          "       ch05_demo --model DIR [--prompt TEXT] [--steps N]\n"
          "       ch05_demo --save DIR\n");
      return 0;
    }
    if (has("--memory")) {
      auto it = std::find(args.begin(), args.end(), "--memory");
      GPT2_CHECK(args.end() - it >= 4, "--memory: needs NAME B T, e.g. --memory gpt2 4 64");
      memory(*(it + 1), std::stoi(*(it + 2)), std::stoi(*(it + 3)), has("--allocate"));
    } else if (has("--model")) {
      predict(value("--model", ""), value("--prompt", "The meaning of life is"),
              std::stoi(value("--steps", "8")));
    } else if (has("--save")) {
      save_tiny(value("--save", ""));
    } else {
      GPT2_CHECK(args.empty(), "unknown argument '", args.empty() ? "" : args[0], "' (try --help)");
      tiny_demo();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
