/// @file pretokenize.h
/// @brief GPT-2's pre-tokenizer: splitting text into words, numbers, punctuation and spaces.
///
/// Before any merge, GPT-2 cuts the text into *pre-tokens* with this regular expression, and BPE
/// then runs inside each pre-token separately (so no token ever spans two of them):
///
///     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
///
/// Read left to right, at each position the first alternative that matches wins:
///
///   1. the contractions `'s 't 're 've 'm 'll 'd` (lower case only: "IT'S" gives "'", "S");
///   2. an optional single space followed by a run of letters (`\p{L}`: Unicode categories Lu Ll
///      Lt Lm Lo), e.g. " hello";
///   3. an optional space and a run of numbers (`\p{N}`: Nd Nl No), e.g. " 2024";
///   4. an optional space and a run of anything else that is not white space, e.g. " ...";
///   5. `\s+(?!\S)`: a run of white space that is not followed by a non-space, which in practice
///      means "all of the run but its last character" when the run is followed by text, so the
///      last space can join the next word by rule 2-4; and the whole run at the end of the text;
///   6. `\s+`: what is left, a single white-space character before text (e.g. "\n" before "a").
///
/// `\s` is Unicode's White_Space property, as in the Rust regex crate that OpenAI's tiktoken uses:
/// U+0085 (NEXT LINE) and U+00A0 (NO-BREAK SPACE) are white space, U+FEFF (BOM) and U+200B are not.
/// `std::regex` knows neither `\p{L}` nor look-ahead over Unicode, so we write the scanner by
/// hand: each rule above becomes a few lines of code over code points (pretokenize.cpp).
///
/// Bytes that are not valid UTF-8 count as "anything else" (rule 4): GPT-2 is byte-level, so they
/// are tokenized and decoded back like any other byte.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace gpt2 {

/// The four kinds of character the regex distinguishes.
enum class CharClass : uint8_t {
  Letter,      ///< `\p{L}`
  Number,      ///< `\p{N}`
  WhiteSpace,  ///< `\s` (Unicode White_Space)
  Other,       ///< everything else, including invalid UTF-8 bytes
};

/// True for the 25 code points with Unicode's White_Space property (PropList.txt).
bool is_unicode_white_space(uint32_t cp);

/// The class of one code point (letters and numbers by Unicode general category, via utf8proc).
CharClass char_class(uint32_t cp);

/// The end (byte offset, exclusive) of the pre-token that starts at byte `pos` of `text`.
/// pos < text.size(); the result is > pos.
size_t next_pretoken_end(std::string_view text, size_t pos);

/// All pre-tokens of `text`, in order; concatenated they give `text` back.
/// Python: `re.findall(pat, text)` with the `regex` module.
std::vector<std::string_view> pretokenize(std::string_view text);

}  // namespace gpt2
