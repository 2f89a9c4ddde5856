// Finding and running a subcommand of `gpt2`.
#include <algorithm>
#include <iostream>

#include "chapters/12_gpt2/commands.h"
#include "chapters/12_gpt2/ranks.h"
#include "common/error.h"

namespace gpt2 {

std::vector<Command> all_commands() {
  std::vector<Command> commands;
  register_tokenizer_commands(commands);
  register_prepare_commands(commands);
  register_train_commands(commands);
  register_generate_commands(commands);
  register_eval_commands(commands);
  register_finetune_commands(commands);
  register_classify_commands(commands);
  register_chat_commands(commands);
  register_quantize_commands(commands);
  register_serve_commands(commands);
  return commands;
}

namespace {

std::string joined(const std::vector<std::string>& words) {
  std::string s;
  for (const auto& w : words) s += (s.empty() ? "" : " ") + w;
  return s;
}

void print_overview(const std::vector<Command>& commands, std::ostream& out) {
  out << "usage: gpt2 <command> [options]\n\nGPT-2 in plain C++: train a tokenizer, prepare data, train a "
         "model, generate text and evaluate it.\n\ncommands:\n";
  for (const Command& c : commands) {
    std::string left = "  " + joined(c.words);
    if (left.size() < 22) left.resize(22, ' ');
    out << left << " " << c.summary << "\n";
  }
  out << "\n'gpt2 <command> --help' describes a command's options.\n";
}

}  // namespace

int run_gpt2(std::span<const std::string> args, CommandIO io) {
  try {
    return run_command(args, io);
  } catch (const Error& e) {
    io.err << "error: " << e.what() << "\n";
    return 1;
  }
}

int run_command(std::span<const std::string> args, CommandIO io) {
  const std::vector<Command> commands = all_commands();
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_overview(commands, args.empty() ? io.err : io.out);
    return args.empty() ? 2 : 0;
  }
  // The command whose words match the most leading arguments ("tokenizer train" before "tokenizer").
  const Command* best = nullptr;
  for (const Command& c : commands) {
    if (c.words.size() <= args.size() && std::equal(c.words.begin(), c.words.end(), args.begin()) &&
        (!best || c.words.size() > best->words.size()))
      best = &c;
  }
  if (!best) {
    // Maybe the start of a group: "gpt2 tokenizer" lists its commands.
    bool is_group = false;
    for (const Command& c : commands) is_group |= c.words.size() > 1 && c.words[0] == args[0];
    io.err << "gpt2: " << (is_group ? "incomplete command '" : "unknown command '") << args[0] << "'\n\n";
    print_overview(commands, io.err);
    return 2;
  }
  GPT2_CHECK(job_ranks(io) == 1 || best->runs_on_ranks, "gpt2 ", joined(best->words),
             " runs in one process: start it without mpirun (of the commands, only 'gpt2 train' and "
             "'gpt2 finetune' run as several ranks of one job)");
  return best->run(args.subspan(best->words.size()), io);
}

}  // namespace gpt2
