// gpt2 prepare: a text file -> token files for training and validation (chapter 06's format).
#include <cstdio>
#include <iostream>
#include <optional>

#include <nlohmann/json.hpp>

#include "chapters/01_tokenizer/tokenizer.h"
#include "chapters/01_tokenizer/train_bpe.h"
#include "chapters/05_gpt2_model/hf_checkpoint.h"
#include "chapters/12_gpt2/args.h"
#include "chapters/12_gpt2/commands.h"
#include "chapters/12_gpt2/prepare.h"
#include "common/error.h"
#include "common/file_io.h"
#include "common/progress.h"
#include "common/timer.h"

namespace gpt2 {

namespace {

int cmd_prepare(std::span<const std::string> args, CommandIO io) {
  ArgParser p(
      "gpt2 prepare",
      "Tokenizes a text file for training. The first part of the text (by bytes, cut at a line\n"
      "break) becomes DIR/train.bin, the last --val-fraction DIR/val.bin (chapter 06's token files);\n"
      "DIR/val.txt keeps the validation text for 'gpt2 eval', DIR/tokenizer/ a copy of the\n"
      "tokenizer and DIR/meta.json the byte and token counts. The text is encoded as ordinary text\n"
      "('<|endoftext|>' in it is not special), on all cores (chapter 01's encode_parallel).\n"
      "DIR must be new or empty unless --force, which replaces these files there (and never the input).");
  p.option("--input", "FILE", "the text to tokenize", "", true);
  p.option("--tokenizer", "DIR", "tokenizer directory (encoder.json + vocab.bpe, or vocab.json + merges.txt)",
           default_tokenizer_dir());
  p.option("--vocab-size", "N",
           "instead of --tokenizer, train a BPE of N tokens on the training part (256: the bytes alone)");
  p.option("--out", "DIR", "output directory (created if needed)", "", true);
  p.flag("--force", "write into a directory that is not empty, replacing prepare's files there");
  p.option("--val-fraction", "F", "fraction of the text kept for validation, in [0, 0.5]", "0.1");
  p.option("--threads", "N", "encoding threads (0: all cores)", "0");
  p.flag("--json", "print meta.json on stdout");
  if (!p.parse(args, io.out)) return 0;
  const double val_fraction = p.get_double("--val-fraction", 0.0, 0.5);
  const int threads = static_cast<int>(p.get_int("--threads", 0, 1024));
  const std::filesystem::path out = p.get("--out");

  GPT2_CHECK(!(p.given("--tokenizer") && p.given("--vocab-size")),
             "gpt2 prepare: give --tokenizer DIR or --vocab-size N (train one), not both");
  const int vocab_size =
      p.given("--vocab-size") ? static_cast<int>(p.get_int("--vocab-size", 256, 1 << 24)) : 0;

  // What this command writes. A directory holding anything else is refused unless --force, and an
  // input is never overwritten, --force or not.
  const std::vector<std::filesystem::path> outputs = {out / "train.bin", out / "val.bin", out / "val.txt",
                                                      out / "meta.json", out / "tokenizer"};
  GPT2_CHECK(!directory_has_entries(out, "gpt2 prepare: --out") || p.given("--force"),
             "gpt2 prepare: --out: '", out.string(),
             "' is not empty; choose another directory, or give --force to replace prepare's files there "
             "(train.bin, val.bin, val.txt, meta.json, tokenizer/)");
  for (const std::filesystem::path& output : outputs) {
    check_not_input(output, p.get("--input"), "gpt2 prepare", "--input");
    if (vocab_size == 0) check_not_input(output, p.get("--tokenizer"), "gpt2 prepare", "--tokenizer");
  }

  Timer timer;
  std::optional<Tokenizer> loaded;
  if (vocab_size == 0) loaded.emplace(Tokenizer::load(p.get("--tokenizer")));
  const std::string text = read_file(p.get("--input"));
  GPT2_CHECK(!text.empty(), "gpt2 prepare: '", p.get("--input"), "' is empty");
  const size_t cut = split_point(text, val_fraction);
  const std::string_view train_text = std::string_view(text).substr(0, cut);
  const std::string_view val_text = std::string_view(text).substr(cut);
  GPT2_CHECK(!train_text.empty(), "gpt2 prepare: '", p.get("--input"),
             "' leaves no training text (one line only? lower --val-fraction)");

  // Files of an earlier prepare that this one would not rewrite (a val.bin when there is no
  // validation part now, the other tokenizer pair) must not survive it: remove them all first.
  for (const std::filesystem::path& output : outputs) gpt2::remove_all(output);
  gpt2::create_directories(out);
  if (vocab_size > 0) {
    ProgressBar bar("train BPE", std::max(0, vocab_size - 257), "merge");
    loaded.emplace(train_bpe(train_text, vocab_size, [&](int done, int) { bar.update(done); }));
    bar.finish();
    loaded->save(out / "tokenizer");
    io.err << "trained a BPE of " << loaded->vocab_size() << " tokens on the " << train_text.size()
           << " bytes of the training part\n";
  } else {
    copy_tokenizer_files(p.get("--tokenizer"), out / "tokenizer");
  }
  const Tokenizer& tok = *loaded;
  const std::vector<int> train_ids = encode_parallel(tok, train_text, threads);
  write_tokens(out / "train.bin", train_ids);
  std::vector<int> val_ids;
  if (!val_text.empty()) {
    val_ids = encode_parallel(tok, val_text, threads);
    write_tokens(out / "val.bin", val_ids);
    write_file_atomic(out / "val.txt", val_text);
  }
  nlohmann::json meta = {
      {"input", p.get("--input")},
      {"tokenizer", vocab_size > 0 ? std::string("trained on the training part") : p.get("--tokenizer")},
      {"vocab_size", tok.vocab_size()},
      {"val_fraction", val_fraction},
      {"train", {{"file", "train.bin"}, {"bytes", train_text.size()}, {"tokens", train_ids.size()}}},
  };
  if (!val_text.empty())
    meta["val"] = {
        {"file", "val.bin"}, {"text", "val.txt"}, {"bytes", val_text.size()}, {"tokens", val_ids.size()}};
  write_file_atomic(out / "meta.json", meta.dump(2) + "\n");

  char line[256];
  std::snprintf(line, sizeof line, "train: %zu bytes -> %zu tokens (%.3f bytes/token)", train_text.size(),
                train_ids.size(),
                static_cast<double>(train_text.size()) / std::max<size_t>(1, train_ids.size()));
  io.err << line << "\n";
  if (!val_text.empty()) {
    std::snprintf(line, sizeof line, "val:   %zu bytes -> %zu tokens (%.3f bytes/token)", val_text.size(),
                  val_ids.size(), static_cast<double>(val_text.size()) / std::max<size_t>(1, val_ids.size()));
    io.err << line << "\n";
  }
  io.err << "vocabulary " << tok.vocab_size() << "; wrote " << out.string() << "/{train.bin"
         << (val_text.empty() ? "" : ", val.bin, val.txt") << ", tokenizer/, meta.json} in "
         << format_duration(timer.seconds()) << "\n";
  if (p.given("--json")) io.out << meta.dump() << "\n";
  return 0;
}

}  // namespace

void register_prepare_commands(std::vector<Command>& commands) {
  commands.push_back({{"prepare"}, "text file -> token files for training and validation", cmd_prepare});
}

}  // namespace gpt2
