#include "chapters/12_gpt2/train_options.h"

#include <algorithm>
#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include "chapters/12_gpt2/model_dir.h"
#include "common/error.h"

namespace gpt2 {

namespace {

// Options that are paths: stored absolute in run.json, so a run resumes from any directory.
const std::vector<std::string> kPathOptions = {"--data",      "--train", "--val",
                                               "--tokenizer", "--init",  "--out"};
// Flags not stored in run.json: they change how the run reports, or nothing it computes.
const std::vector<std::string> kUnstoredFlags = {"--no-progress", "--plain-kernels", "--json", "--force"};

bool contains(const std::vector<std::string>& list, const std::string& s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

// "--name" of "--name" or "--name=value".
std::string option_name(const std::string& arg) {
  return arg.substr(0, arg.find('='));
}

}  // namespace

const std::vector<std::string> kResumeOverrides = {"--resume",      "--time-budget",   "--steps",
                                                   "--no-progress", "--plain-kernels", "--json"};

ArgParser make_train_parser() {
  ArgParser p(
      "gpt2 train",
      "Trains a GPT-2 on token files from 'gpt2 prepare' (chapter 06's loop: AdamW, warmup + cosine\n"
      "schedule, gradient clipping and accumulation, validation, checkpoints) on chapter 08's fast\n"
      "kernels. From scratch, the shape is --config NAME (gpt2, gpt2-medium, gpt2-large, gpt2-xl) and/or\n"
      "the explicit --n-layer/--n-head/--n-embd/--context/--vocab-size (default: 4 layers, 4 heads, 128\n"
      "channels, context 256, the tokenizer's vocabulary); --init MODEL_DIR fine-tunes a model instead.\n"
      "RUN_DIR gets metrics.csv, loss.svg, checkpoints/, run.json (the options, for --resume),\n"
      "summary.json and model/, a complete model directory for 'gpt2 generate' and 'gpt2 eval'.\n"
      "RUN_DIR must be new or empty unless --force, which replaces a run there.\n"
      "Ctrl-C stops after the current step and saves a checkpoint; --resume RUN_DIR continues exactly.");
  p.option("--data", "DIR", "prepared data: DIR/train.bin, DIR/val.bin (if present), DIR/tokenizer/");
  p.option("--train", "FILE", "training token file (instead of --data)");
  p.option("--val", "FILE", "validation token file (instead of --data)");
  p.option("--tokenizer", "DIR",
           "tokenizer saved with the model (default: --data's, else --init's, else GPT-2's)");
  p.option("--out", "RUN_DIR", "run directory (required unless --resume)");
  p.flag("--force", "write the run into a directory that is not empty, replacing a run there");
  p.option("--resume", "RUN_DIR", "continue the run in RUN_DIR from its newest checkpoint");
  p.option("--init", "MODEL_DIR", "start from this model (fine-tuning) instead of random weights");
  p.option("--config", "NAME", "a named shape: gpt2, gpt2-medium, gpt2-large, gpt2-xl");
  p.option("--n-layer", "L", "transformer blocks");
  p.option("--n-head", "NH", "attention heads (must divide --n-embd)");
  p.option("--n-embd", "C", "channels");
  p.option("--context", "maxT", "context length (positions)");
  p.option("--vocab-size", "V", "vocabulary size (default: the tokenizer's)");
  p.option("--init-seed", "N", "seed of the random initial weights", "1337");
  p.option("--batch-size", "B", "sequences per micro-batch", "8");
  p.option("--seq-len", "T", "tokens per sequence (default: the context)");
  p.option("--grad-accum", "K", "micro-batches per optimizer step", "1");
  p.option("--steps", "N", "optimizer steps (default 1000; with --time-budget: as many as fit)");
  p.option("--lr", "LR", "peak learning rate", "1e-3");
  p.option("--min-lr", "LR", "final learning rate of the cosine decay (default: lr / 10)");
  p.option("--warmup", "N", "linear warmup steps", "100");
  p.option("--weight-decay", "WD", "AdamW weight decay of the matrices", "0.1");
  p.option("--beta1", "B1", "AdamW beta1", "0.9");
  p.option("--beta2", "B2", "AdamW beta2", "0.95");
  p.option("--eps", "EPS", "AdamW epsilon", "1e-8");
  p.option("--grad-clip", "C", "clip the global gradient norm to C (0: no clipping)", "1.0");
  p.option("--eval-interval", "N", "validate every N steps and at the end (0: never)", "100");
  p.option("--eval-steps", "N", "validation batches per evaluation", "20");
  p.option("--checkpoint-interval", "N", "checkpoint every N steps (0: only at the end)", "500");
  p.option("--keep-checkpoints", "N", "checkpoints to keep", "2");
  p.option("--seed", "N", "seed of the training data's order", "1337");
  p.flag("--no-shuffle", "visit the training windows in order");
  p.option("--time-budget", "SECONDS",
           "stop after this much training time (and save); without --steps, the schedule is sized to it");
  add_dropout_options(p);
  add_backend_options(p);
  p.flag("--no-progress", "no progress bar; print a line per evaluation instead");
  p.flag("--json", "print summary.json on stdout at the end");
  return p;
}

void add_dropout_options(ArgParser& p) {
  p.option("--dropout", "P",
           "dropout probability at every site GPT-2 has (embedding, attention weights, residual branches);"
           " default: the model's config.json (0 for a new model)");
  p.option("--embd-pdrop", "P", "dropout after the embedding only (overrides --dropout there)");
  p.option("--attn-pdrop", "P", "dropout on the attention weights only");
  p.option("--resid-pdrop", "P", "dropout on the attention and MLP outputs only");
}

DropoutConfig dropout_options(const ArgParser& p, DropoutConfig d) {
  auto probability = [&](const std::string& flag) {
    return static_cast<float>(p.get_double(flag, 0.0, 0.99));  // below 1: something must survive
  };
  if (p.given("--dropout")) d.embd_pdrop = d.attn_pdrop = d.resid_pdrop = probability("--dropout");
  if (p.given("--embd-pdrop")) d.embd_pdrop = probability("--embd-pdrop");
  if (p.given("--attn-pdrop")) d.attn_pdrop = probability("--attn-pdrop");
  if (p.given("--resid-pdrop")) d.resid_pdrop = probability("--resid-pdrop");
  return d;
}

std::vector<std::string> stored_args(std::span<const std::string> args, const ArgParser& p) {
  const std::vector<std::string> flags = {"--no-shuffle", "--no-progress", "--plain-kernels", "--json",
                                          "--force"};
  std::vector<std::string> out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string name = option_name(args[i]);
    const bool is_flag = contains(flags, name);
    if (!is_flag && args[i].find('=') == std::string::npos) ++i;  // skip the value
    if (is_flag) {
      if (!contains(kUnstoredFlags, name)) out.push_back(name);
      continue;
    }
    out.push_back(name);
    out.push_back(contains(kPathOptions, name)
                      ? std::filesystem::absolute(p.get(name)).lexically_normal().string()
                      : p.get(name));
  }
  return out;
}

std::vector<std::string> with_option(std::span<const std::string> args, const std::string& name,
                                     const std::string& value) {
  std::vector<std::string> out;
  bool placed = false;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == name && i + 1 < args.size()) {
      ++i;  // the old value
      if (!value.empty() && !placed) out.insert(out.end(), {name, value});
      placed = true;
      continue;
    }
    out.push_back(args[i]);
  }
  if (!placed && !value.empty()) out.insert(out.end(), {name, value});
  return out;
}

std::string run_file_text(std::span<const std::string> args, const GPT2Config& config) {
  const nlohmann::json j = {{"args", std::vector<std::string>(args.begin(), args.end())},
                            {"config", nlohmann::json::parse(config_to_json(config))}};
  return j.dump(2) + "\n";
}

std::vector<std::string> parse_run_file(const std::string& text, const std::string& name) {
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    GPT2_CHECK(j.is_object() && j.contains("args") && j["args"].is_array(), name,
               ": not a run.json of 'gpt2 train' (expected an object with an \"args\" array)");
    return j["args"].get<std::vector<std::string>>();  // throws type_error for a non-string
  } catch (const nlohmann::json::exception& e) {
    fail(name, ": not a valid run.json (", e.what(), ")");
  }
}

ArgParser resumed_options(std::span<const std::string> stored, std::span<const std::string> cli,
                          const std::string& name) {
  for (const std::string& a : cli) {
    GPT2_CHECK(a.rfind("--", 0) != 0 || contains(kResumeOverrides, option_name(a)), "gpt2 train: option '",
               option_name(a), "' cannot be changed when resuming (the run's options are in ", name,
               "); only --time-budget, --steps, --no-progress, --plain-kernels and --json can");
  }
  for (const std::string& a : stored) {
    GPT2_CHECK(option_name(a) != "--resume", name, ": holds '--resume', which is not an option of a run");
  }
  std::vector<std::string> effective(stored.begin(), stored.end());
  effective.insert(effective.end(), cli.begin(), cli.end());  // later values win
  ArgParser p = make_train_parser();
  try {
    std::ostringstream help;
    GPT2_CHECK(p.parse(effective, help), name, ": holds '--help'");
  } catch (const Error& e) {
    fail(name, ": the stored options are not valid (", e.what(), ")");
  }
  return p;
}

}  // namespace gpt2
