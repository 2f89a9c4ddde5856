// gpt2 encode | decode | tokenizer train (chapter 01's tokenizer on the command line).
#include <algorithm>
#include <charconv>
#include <iostream>
#include <iterator>

#include "chapters/01_tokenizer/tokenizer.h"
#include "chapters/01_tokenizer/train_bpe.h"
#include "chapters/12_gpt2/args.h"
#include "chapters/12_gpt2/commands.h"
#include "common/error.h"
#include "common/file_io.h"
#include "common/progress.h"
#include "common/timer.h"

namespace gpt2 {

namespace {

std::string read_all(std::istream& in) {
  std::string s;
  char buf[1 << 16];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) s.append(buf, static_cast<size_t>(in.gcount()));
  return s;
}

int cmd_encode(std::span<const std::string> args, CommandIO io) {
  ArgParser p("gpt2 encode",
              "Reads text from stdin and prints its token ids, separated by spaces, on one line.\n"
              "By default '<|endoftext|>' in the text is ordinary text (7 tokens); with --allow-special\n"
              "it becomes the end-of-text token (50256 for GPT-2).");
  p.option("--tokenizer", "DIR", "tokenizer directory (encoder.json + vocab.bpe)", default_tokenizer_dir());
  p.flag("--allow-special", "map the literal <|endoftext|> to its token id");
  if (!p.parse(args, io.out)) return 0;
  const Tokenizer tok = Tokenizer::load(p.get("--tokenizer"));
  const std::string text = read_all(io.in);
  const std::vector<int> ids = encode_parallel(tok, text, 0, p.given("--allow-special"));
  std::string line;
  line.reserve(ids.size() * 6 + 1);
  char buf[16];
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) line += ' ';
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, ids[i]);
    line.append(buf, end);
  }
  line += '\n';
  io.out << line;
  return 0;
}

int cmd_decode(std::span<const std::string> args, CommandIO io) {
  ArgParser p(
      "gpt2 decode",
      "Reads token ids (separated by any white space) from stdin and writes the bytes they stand for.");
  p.option("--tokenizer", "DIR", "tokenizer directory (encoder.json + vocab.bpe)", default_tokenizer_dir());
  if (!p.parse(args, io.out)) return 0;
  const Tokenizer tok = Tokenizer::load(p.get("--tokenizer"));
  const std::string text = read_all(io.in);
  std::vector<int> ids;
  const char* s = text.data();
  const char* end = s + text.size();
  while (true) {
    while (s < end && std::isspace(static_cast<unsigned char>(*s))) ++s;
    if (s == end) break;
    const char* word_end = s;
    while (word_end < end && !std::isspace(static_cast<unsigned char>(*word_end))) ++word_end;
    int id = 0;
    auto [stop, ec] = std::from_chars(s, word_end, id);
    GPT2_CHECK(ec == std::errc() && stop == word_end, "gpt2 decode: input item ", ids.size() + 1, " is '",
               std::string(s, std::min<size_t>(static_cast<size_t>(word_end - s), 40)),
               "', expected a token id (a whole number)");
    GPT2_CHECK(id >= 0 && id < tok.vocab_size(), "gpt2 decode: token id ", id, " (input item ",
               ids.size() + 1, ") is out of range: the tokenizer has ids 0..", tok.vocab_size() - 1);
    ids.push_back(id);
    s = word_end;
  }
  const std::string bytes = tok.decode(ids);
  io.out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return 0;
}

int cmd_tokenizer_train(std::span<const std::string> args, CommandIO io) {
  ArgParser p(
      "gpt2 tokenizer train",
      "Learns a byte-level BPE tokenizer (GPT-2's pre-tokenization) from a text file and saves it as\n"
      "DIR/encoder.json + DIR/vocab.bpe, loadable with --tokenizer DIR. The vocabulary size counts\n"
      "the 256 bytes, the merges and <|endoftext|> (the last id); 256 means the bytes alone.\n"
      "DIR must be new or empty unless --force, which replaces the tokenizer files there.");
  p.option("--input", "FILE", "training text", "", true);
  p.option("--vocab-size", "N", "vocabulary size, at least 256", "", true);
  p.option("--out", "DIR", "output directory (created if needed)", "", true);
  p.flag("--force", "write into a directory that is not empty, replacing the tokenizer files there");
  if (!p.parse(args, io.out)) return 0;
  const int vocab_size = static_cast<int>(p.get_int("--vocab-size", 256, 1 << 24));
  const std::filesystem::path out = p.get("--out");
  GPT2_CHECK(
      !directory_has_entries(out, "gpt2 tokenizer train: --out") || p.given("--force"),
      "gpt2 tokenizer train: --out: '", out.string(),
      "' is not empty; choose another directory, or give --force to replace the tokenizer files there");
  for (const char* name : {"encoder.json", "vocab.bpe", "vocab.json", "merges.txt"})
    check_not_input(out / name, p.get("--input"), "gpt2 tokenizer train", "--input");
  const std::string text = read_file(p.get("--input"));
  Timer timer;
  ProgressBar bar("train BPE", std::max(0, vocab_size - 257), "merge");
  Tokenizer tok = train_bpe(text, vocab_size, [&](int done, int) { bar.update(done); });
  bar.finish();
  tok.save(p.get("--out"));
  io.err << "trained " << tok.merges().size() << " merges (vocabulary " << tok.vocab_size() << ") on "
         << text.size() << " bytes in " << format_duration(timer.seconds()) << "; saved to " << p.get("--out")
         << "\n";
  if (tok.vocab_size() < vocab_size)
    io.err << "note: the text ran out of pairs to merge before reaching " << vocab_size << " tokens\n";
  return 0;
}

}  // namespace

void register_tokenizer_commands(std::vector<Command>& commands) {
  commands.push_back({{"encode"}, "text on stdin -> token ids on stdout", cmd_encode});
  commands.push_back({{"decode"}, "token ids on stdin -> text on stdout", cmd_decode});
  commands.push_back({{"tokenizer", "train"}, "learn a BPE tokenizer from a text file", cmd_tokenizer_train});
}

}  // namespace gpt2
