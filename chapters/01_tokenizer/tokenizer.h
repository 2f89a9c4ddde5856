/// @file tokenizer.h
/// @brief GPT-2's byte-level BPE tokenizer: load, encode, decode, save.
///
/// A token is a byte string. The vocabulary has three kinds of token:
///   - the 256 single bytes (ids 0..255 in GPT-2's byte order, see byte_unicode.h);
///   - one token per *merge*: merge number r (its rank) joins two existing tokens A and B into
///     the token AB (in GPT-2, merge r makes id 256 + r);
///   - special tokens such as `<|endoftext|>` (id 50256), which no merge produces.
///
/// Encoding (tokenizer.cpp): split the text into pre-tokens (pretokenize.h); write each
/// pre-token as its bytes' tokens; then, repeatedly, among all adjacent pairs that have a merge,
/// apply the one with the lowest rank (the leftmost if it occurs several times), until no pair
/// can merge. Decoding concatenates the tokens' bytes.
///
/// @code
///   gpt2::Tokenizer tok = gpt2::Tokenizer::load(gpt2::data_dir() + "/gpt2");
///   std::vector<int> ids = tok.encode("Hello world");   // {15496, 995}
///   std::string text = tok.decode(ids);                  // "Hello world"
/// @endcode
///
/// Python: `tiktoken.get_encoding("gpt2")` (`encode_ordinary`, `decode_bytes`), or Hugging
/// Face's `GPT2TokenizerFast`. A Tokenizer is immutable after loading, so one object may be shared
/// by many threads.
#pragma once

#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chapters/01_tokenizer/flat_maps.h"
#include "chapters/01_tokenizer/vocab_files.h"

namespace gpt2 {

/// The text of GPT-2's end-of-text token, which separates documents in training data.
inline constexpr std::string_view kEndOfText = "<|endoftext|>";
/// Its id in GPT-2's vocabulary (the last one). A tokenizer trained by train_bpe gives it the
/// last id of its own vocabulary instead: ask Tokenizer::eot_id() when the tokenizer is at hand.
inline constexpr int kEndOfTextId = 50256;

class Tokenizer {
 public:
  /// Loads `dir/encoder.json` + `dir/vocab.bpe` (OpenAI's names) or `dir/vocab.json` +
  /// `dir/merges.txt` (Hugging Face's names; same formats), whichever find_tokenizer_files()
  /// picks. A malformed file throws gpt2::Error naming the file and the line (or the token) at
  /// fault.
  static Tokenizer load(const std::filesystem::path& dir);

  /// Builds a tokenizer from its merges: ids 0..255 are the bytes (GPT-2's order), merge r makes
  /// id 256 + r, and the special tokens follow. This is how train_bpe() returns its result.
  static Tokenizer from_merges(const std::vector<std::pair<int, int>>& merges,
                               const std::vector<std::string>& special_tokens = {std::string(kEndOfText)});

  /// Writes `dir/encoder.json` and `dir/vocab.bpe` (creating `dir`), readable by load() and by
  /// other GPT-2 tools, and removes a vocab.json + merges.txt pair there (one tokenizer per
  /// directory).
  void save(const std::filesystem::path& dir) const;

  /// The token ids of `text`. With allow_special == false (the default) every byte is ordinary
  /// text, so "<|endoftext|>" becomes the 7 tokens that spell it; with true, each literal
  /// occurrence of a special token's text becomes that token's id (e.g. 50256).
  std::vector<int> encode(std::string_view text, bool allow_special = false) const;
  /// The same, appending to `out` (no reallocation of a vector the caller reuses).
  void encode_append(std::string_view text, std::vector<int>& out, bool allow_special = false) const;

  /// The bytes of `ids`, concatenated. Throws for an id outside [0, vocab_size()).
  /// The result need not be valid UTF-8 (a token can end in the middle of a character).
  std::string decode(std::span<const int> ids) const;

  /// The bytes of one token (for streaming output one token at a time). Throws when out of range.
  std::string_view token_bytes(int id) const;

  /// BPE on one pre-token alone, without the whole-token shortcut encode() takes: the textbook
  /// algorithm, for the tests and the chapter's demo.
  std::vector<int> bpe(std::string_view piece) const;

  int vocab_size() const { return static_cast<int>(token_offset_.size()) - 1; }
  /// The id of `<|endoftext|>`, or -1 when the vocabulary has no such token.
  int eot_id() const { return eot_id_; }
  /// The merges in rank order: merges()[r] = (left id, right id).
  const std::vector<std::pair<int, int>>& merges() const { return merges_; }
  /// The id of the merge of (left, right) and its rank, or {-1, -1}.
  MergeTable::Merge find_merge(int left, int right) const { return merge_table_.find(left, right); }
  /// The id of the ordinary token with exactly these bytes, or -1 (also for a token longer than
  /// StringToIds::kMaxLength, 64 KB, which the lookup table does not hold; encode() still makes it).
  int token_id(std::string_view bytes) const;
  /// The special tokens, (text, id).
  const std::vector<std::pair<std::string, int>>& special_tokens() const { return specials_; }

 private:
  Tokenizer() = default;
  // Stores the tokens' bytes (tokens[id]) and builds the lookup tables from them, merges_ and
  // specials_; merge r makes the token merged_ids[r].
  void build_tables(const std::vector<std::string>& tokens, const std::vector<int>& merged_ids);
  // Encodes text without special tokens; `cache` maps the pre-tokens seen so far to their ids.
  void encode_ordinary(std::string_view text, std::vector<int>& out, StringToIds& cache) const;
  void bpe_into(std::string_view piece, std::vector<int>& out) const;

  std::string token_arena_;             ///< all tokens' bytes back to back (+16 bytes of padding)
  std::vector<uint32_t> token_offset_;  ///< token id's bytes: [offset[id], offset[id + 1])
  std::vector<std::pair<int, int>> merges_;
  std::vector<std::pair<std::string, int>> specials_;
  int eot_id_ = -1;
  size_t max_token_length_ = 0;  ///< the longest ordinary token, in bytes
  int byte_id_[256] = {};        ///< the id of each single-byte token
  StringToIds piece_ids_;        ///< ordinary token bytes -> its id (the whole-pre-token shortcut)
  MergeTable merge_table_;
};

/// Encodes a large text on `threads` threads (0: all cores) and returns the same ids as
/// tok.encode(text, allow_special). The text is cut into chunks only at places where the
/// pre-tokenizer must split anyway (an ASCII white-space character right after a printable ASCII
/// character), so the result does not depend on the number of threads.
std::vector<int> encode_parallel(const Tokenizer& tok, std::string_view text, int threads = 0,
                                 bool allow_special = false);

}  // namespace gpt2
