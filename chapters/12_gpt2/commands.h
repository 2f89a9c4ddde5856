/// @file commands.h
/// @brief The subcommands of the `gpt2` program, and how main.cpp finds them.
///
/// Each group of commands lives in its own file (cmd_tokenizer.cpp: `encode`, `decode`,
/// `tokenizer train`) and registers its commands in a list. A command gets the arguments that
/// follow its words and the streams to use (so tests can run it in-process), and returns the
/// process exit status. Errors are thrown as gpt2::Error; main() prints them.
///
/// To add a command group: write `cmd_NAME.cpp` with a `register_NAME_commands()` like
/// register_tokenizer_commands(), declare it here, and call it in all_commands() (dispatch.cpp).
#pragma once

#include <functional>
#include <iosfwd>
#include <span>
#include <string>
#include <vector>

namespace gpt2 {

/// Where a command reads and writes: stdin, stdout and stderr in the program.
struct CommandIO {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
};

struct Command {
  std::vector<std::string> words;  ///< e.g. {"tokenizer", "train"}
  std::string summary;             ///< one line for `gpt2 --help`
  std::function<int(std::span<const std::string> args, CommandIO io)> run;
};

/// `encode`, `decode`, `tokenizer train`.
void register_tokenizer_commands(std::vector<Command>& commands);

/// `prepare` (cmd_prepare.cpp).
void register_prepare_commands(std::vector<Command>& commands);
/// `train` (cmd_train.cpp).
void register_train_commands(std::vector<Command>& commands);
/// `generate` (cmd_generate.cpp).
void register_generate_commands(std::vector<Command>& commands);
/// `eval` (cmd_eval.cpp).
void register_eval_commands(std::vector<Command>& commands);
/// `quantize` (cmd_quantize.cpp).
void register_quantize_commands(std::vector<Command>& commands);
/// `serve` (cmd_serve.cpp).
void register_serve_commands(std::vector<Command>& commands);

/// Every command of the program, in the order `gpt2 --help` lists them.
std::vector<Command> all_commands();

/// Runs `gpt2 <args...>`: finds the command, runs it, and turns a gpt2::Error into a message on
/// io.err and exit status 1 (2 for an unknown command). main() is just this.
int run_gpt2(std::span<const std::string> args, CommandIO io);

/// GPT-2's own tokenizer directory, the default of --tokenizer: the first place of
/// tokenizer_search_path() (default_paths.h) that holds one.
std::string default_tokenizer_dir();

}  // namespace gpt2
