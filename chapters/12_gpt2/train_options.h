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
/// a run reports (`--no-progress`, `--json`) or computes the same numbers (`--plain-kernels`) are
/// not stored. A resumed run may give again only the options in kResumeOverrides; `--steps` and
/// `--time-budget` given then are stored in run.json, so a later plain `--resume` keeps them.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "chapters/05_gpt2_model/config.h"
#include "chapters/12_gpt2/args.h"

namespace gpt2 {

/// The parser of `gpt2 train`'s options, with their help texts and defaults.
ArgParser make_train_parser();

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
