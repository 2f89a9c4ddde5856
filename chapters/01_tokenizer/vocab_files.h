/// @file vocab_files.h
/// @brief Which two files of a directory hold its tokenizer: one rule for every reader and writer.
///
/// A tokenizer is two files (vocab_files.cpp reads and writes them): OpenAI names them
/// `encoder.json` + `vocab.bpe`, Hugging Face `vocab.json` + `merges.txt`, with the same content.
/// A directory must hold one tokenizer. If it held two different ones under the two names, one
/// program (or one function) would load the first and another copy the second, and a model
/// would be trained with one tokenizer and saved with the other. So every function that reads
/// these files asks find_tokenizer_files(), which refuses two different pairs, and every function
/// that writes a pair removes the other names (remove_other_tokenizer_files()).
#pragma once

#include <filesystem>

namespace gpt2 {

/// The two files of a tokenizer.
struct TokenizerFiles {
  std::filesystem::path vocab;   ///< encoder.json or vocab.json: token -> id
  std::filesystem::path merges;  ///< vocab.bpe or merges.txt: the merges in rank order
};

/// The tokenizer files of `dir`: the one complete pair (an incomplete pair is ignored). Both
/// complete pairs are accepted only if they hold the same bytes. Throws gpt2::Error naming the
/// directory when there is no complete pair, or two different ones.
TokenizerFiles find_tokenizer_files(const std::filesystem::path& dir);

/// Whether `dir` holds at least one complete pair of tokenizer files.
bool has_tokenizer_files(const std::filesystem::path& dir);

/// After writing `kept` (one pair) into its directory: deletes the other pair's files there, if
/// any, so the directory holds one tokenizer.
void remove_other_tokenizer_files(const TokenizerFiles& kept);

}  // namespace gpt2
