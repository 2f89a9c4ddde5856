/// @file args.h
/// @brief A small command-line parser for the `gpt2` program: `--name value`, `--name=value`,
/// flags, defaults, required options, `--help`, and errors that name the flag.
///
/// @code
///   gpt2::ArgParser p("gpt2 encode", "Reads text on stdin, prints token ids.");
///   p.option("--tokenizer", "DIR", "tokenizer directory", default_dir);
///   p.flag("--allow-special", "map the literal <|endoftext|> to its id");
///   if (!p.parse(args, std::cout)) return 0;   // --help was printed
///   std::string dir = p.get("--tokenizer");
/// @endcode
/// Every mistake (unknown flag, missing value, a value that is not a number, a missing required
/// option) throws gpt2::Error with a message that names the flag and points to `--help`.
#pragma once

#include <ostream>
#include <span>
#include <string>
#include <vector>

namespace gpt2 {

class ArgParser {
 public:
  /// `command` is how the user typed it ("gpt2 tokenizer train"); `summary` is one paragraph.
  ArgParser(std::string command, std::string summary);

  /// An option that takes a value. An empty default with required == false means "not given".
  ArgParser& option(const std::string& name, const std::string& value_name, const std::string& help,
                    const std::string& default_value = "", bool required = false);
  /// An option without a value: false unless given.
  ArgParser& flag(const std::string& name, const std::string& help);

  /// Parses the arguments after the command words. Returns false when `--help` (or `-h`) was
  /// given: the usage has then been written to `help_out` and the command should return 0.
  bool parse(std::span<const std::string> args, std::ostream& help_out);

  /// The value of an option (its default when not given).
  std::string get(const std::string& name) const;
  /// The value as an integer in [min, max]; throws naming the flag otherwise.
  long long get_int(const std::string& name, long long min, long long max) const;
  /// The value as a finite real number in [min, max]; throws naming the flag otherwise.
  double get_double(const std::string& name, double min, double max) const;
  /// Whether a flag (or an option) was given on the command line.
  bool given(const std::string& name) const;

  /// The --help text.
  std::string usage() const;

 private:
  struct Spec {
    std::string name, value_name, help, default_value;
    bool is_flag = false, required = false;
    bool given = false;
    std::string value;
  };
  Spec& find(const std::string& name);
  const Spec& find(const std::string& name) const;
  std::string command_, summary_;
  std::vector<Spec> specs_;
};

}  // namespace gpt2
