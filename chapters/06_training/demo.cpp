// ch06_demo: trains a small GPT-2 on tiny Shakespeare, byte by byte, for a short while, and
// writes metrics.csv, loss.svg and checkpoints into the output directory.
//
//   ch06_demo [--steps N] [--out DIR] [--resume]
//
// Byte-level: every byte of the text is one token (V = 256), so no tokenizer is needed and the
// model is small enough to train on a laptop's CPU in about a minute. Ctrl-C stops it cleanly
// (with a checkpoint); `--resume` continues exactly where it stopped.
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include "chapters/05_gpt2_model/gpt2.h"
#include "chapters/06_training/gpt2_trainable.h"
#include "chapters/06_training/token_file.h"
#include "chapters/06_training/trainer.h"
#include "common/error.h"
#include "common/file_io.h"
#include "common/testing.h"

namespace {

// Greedy continuation of `prompt`, one byte at a time (chapter 07 does this properly).
std::string greedy_peek(gpt2::GPT2& model, const std::string& prompt, int n) {
  std::vector<int> ids(prompt.begin(), prompt.end());
  const int context = model.config().n_positions, V = model.config().vocab_size;
  for (int i = 0; i < n; ++i) {
    const int T = std::min<int>(static_cast<int>(ids.size()), context);
    model.forward(ids.data() + ids.size() - T, nullptr, 1, T);
    const float* last = model.logits().data() + static_cast<size_t>(T - 1) * V;
    int best = 0;
    for (int v = 1; v < V; ++v) best = last[v] > last[best] ? v : best;
    ids.push_back(best);
  }
  return std::string(ids.begin(), ids.end());
}

}  // namespace

int main(int argc, char** argv) {
  try {
    int steps = 300;
    std::filesystem::path out = "ch06_run";
    bool resume = false;
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg == "--steps" && i + 1 < argc) {
        steps = std::stoi(argv[++i]);
      } else if (arg == "--out" && i + 1 < argc) {
        out = argv[++i];
      } else if (arg == "--resume") {
        resume = true;
      } else {
        std::fprintf(stderr, "usage: ch06_demo [--steps N] [--out DIR] [--resume]\n");
        return arg == "--help" ? 0 : 2;
      }
    }

    // 1. Data: the bytes of tiny Shakespeare, 90% for training and 10% for validation.
    const std::string text = gpt2::read_file(std::filesystem::path(gpt2::data_dir()) / "tinyshakespeare.txt");
    std::vector<int32_t> ids(text.begin(), text.end());
    for (int32_t& id : ids) id &= 0xff;  // bytes as 0..255 (char may be signed)
    const size_t split = ids.size() * 9 / 10;
    gpt2::create_directories(out);
    gpt2::write_token_file(out / "train.bin", std::span(ids).first(split));
    gpt2::write_token_file(out / "val.bin", std::span(ids).subspan(split));
    std::printf("tiny Shakespeare: %zu bytes, %zu for training, %zu for validation\n", ids.size(), split,
                ids.size() - split);

    // 2. A small GPT-2: 2 layers, 4 heads, 64 channels, context 64, 256 byte tokens.
    gpt2::CpuBackend cpu;
    gpt2::GPT2 model(gpt2::GPT2Config::make(2, 4, 64, 64, 256), cpu);
    model.init_random(1337);
    std::printf("model: %s, %lld parameters\n", gpt2::to_string(model.config()).c_str(),
                static_cast<long long>(model.num_parameters()));

    // 3. Train.
    gpt2::TrainConfig config;
    config.train_file = out / "train.bin";
    config.val_file = out / "val.bin";
    config.out_dir = out;
    config.batch_size = 8;
    config.seq_len = 64;
    config.steps = steps;
    config.lr = 2e-3f;
    config.min_lr = 2e-4f;
    config.warmup_steps = std::max(1, steps / 10);
    config.eval_interval = std::max(1, steps / 10);
    config.eval_steps = 5;
    config.checkpoint_interval = std::max(1, steps / 3);
    config.resume = resume;
    config.title = "ch06_demo: byte-level GPT-2 on tiny Shakespeare";
    gpt2::TrainResult result = gpt2::train(model, config);

    if (!result.history.empty()) {
      const auto& first = result.history.front();
      const auto& last = result.history.back();
      std::printf("steps %d..%d: train loss %.4f -> %.4f", result.start_step + 1, result.final_step,
                  first.train_loss, last.train_loss);
      if (std::isfinite(last.val_loss)) std::printf(", validation loss %.4f", last.val_loss);
      std::printf(" (uniform guessing: ln 256 = 5.545)\n");
    }
    if (result.interrupted) std::printf("interrupted: continue with --resume\n");
    std::printf("wrote %s, %s and checkpoints in %s\n", (out / "metrics.csv").c_str(),
                (out / "loss.svg").c_str(), (out / "checkpoints").c_str());
    std::printf("greedy continuation of \"ROMEO:\": %s\n", greedy_peek(model, "ROMEO:\n", 120).c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ch06_demo: %s\n", e.what());
    return 1;
  }
}
