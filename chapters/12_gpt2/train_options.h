/// @file train_options.h
/// @brief The options of `gpt2 train`, and run.json, the file that keeps a run's options so that
/// `gpt2 train --resume RUN_DIR` can rebuild the run.
///
/// run.json holds the command line of the run and, for reading, the model's config.json:
///
///     {"args": ["--data", "/home/me/runs/data", "--n-layer", "4", ..., "--steps", "2512"],
///      "config": {"model_type": "gpt2", "n_layer": 4, ...}}
///
/// Paths are stored absolute (a run resumes from any directory); the flags that only change how
/// a run reports (`--no-progress`, `--json`) or computes the same numbers (`--plain-kernels`, and
/// how mpirun's ranks share the work: `--zero1`, `--bucket-mb`, `--rank-timeout`) are not
/// stored. A resumed run may give again only the options in kResumeOverrides; `--steps`,
/// `--time-budget` and `--grad-accum` given then are stored in run.json, so a later plain
/// `--resume` keeps them. (`--grad-accum` may change only with the number of ranks: the
/// checkpoint holds the micro-batches of a step over all ranks, and training checks that
/// ranks × K still gives them.)
#pragma once

#include <span>
#include <string>
#include <vector>

#include "chapters/05_gpt2_model/config.h"
#include "chapters/06_training/trainer.h"
#include "chapters/12_gpt2/args.h"

namespace gpt2 {

/// The parser of `gpt2 train`'s options, with their help texts and defaults.
ArgParser make_train_parser();

/// The defaults of the optimizer's options that differ between `gpt2 train` (a model from
/// scratch) and `gpt2 finetune` (a trained model, changed gently).
struct OptimizerDefaults {
  std::string lr = "1e-3", warmup = "100", weight_decay = "0.1";
  std::string eval_interval = "100", eval_steps = "20", checkpoint_interval = "500";
};
/// Declares chapter 06's AdamW, schedule, validation and checkpoint options (--lr, --min-lr,
/// --warmup, --weight-decay, --beta1, --beta2, --eps, --grad-clip, --eval-interval,
/// --eval-steps, --checkpoint-interval, --keep-checkpoints).
void add_optimizer_options(ArgParser& p, const OptimizerDefaults& defaults);
/// Reads those, and --batch-size, --grad-accum, --seed, --no-shuffle and --no-progress (which
/// every training command declares), into `tc`.
void read_optimizer_options(const ArgParser& p, TrainConfig& tc);

/// Declares the dropout options of training (`--dropout P` for all three probabilities, and
/// `--embd-pdrop`, `--attn-pdrop`, `--resid-pdrop` one by one).
void add_dropout_options(ArgParser& p);
/// `base` (the model's own, from its config.json) with the dropout options given applied:
/// --dropout first, then each of the three one-by-one options.
DropoutConfig dropout_options(const ArgParser& p, DropoutConfig base);

/// The options that may be given again with --resume: they do not change what the run computes
/// or, for --steps and --time-budget, only how long it goes on.
extern const std::vector<std::string> kResumeOverrides;

/// What run.json stores for a fresh run given `args` (parsed into `p`): every option given, with
/// the path options made absolute, without the flags that may differ on resume.
std::vector<std::string> stored_args(std::span<const std::string> args, const ArgParser& p);

/// `args` with option `name` set to `value` (replaced where it is, else appended); an empty
/// `value` removes the option.
std::vector<std::string> with_option(std::span<const std::string> args, const std::string& name,
                                     const std::string& value);

/// run.json's text for these stored args and the model's configuration.
std::string run_file_text(std::span<const std::string> args, const GPT2Config& config);

/// The stored args of run.json's text. Throws gpt2::Error naming `name` for anything but an
/// object whose "args" is an array of strings.
std::vector<std::string> parse_run_file(const std::string& text, const std::string& name);

/// The options of a resumed run: `stored` (from run.json `name`), then the command line `cli`
/// (later values win), parsed with make_train_parser(). Throws gpt2::Error if `cli` gives an
/// option outside kResumeOverrides, or naming `name` if the stored args are not valid options.
ArgParser resumed_options(std::span<const std::string> stored, std::span<const std::string> cli,
                          const std::string& name);

}  // namespace gpt2
