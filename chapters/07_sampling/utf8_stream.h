/// @file utf8_stream.h
/// @brief Printing generated text as it arrives without cutting a UTF-8 character in half.
///
/// GPT-2's tokens are byte strings, not characters: "é" is the two bytes C3 A9, and an emoji is
/// four bytes that BPE may well split over two or three tokens. Printing each token's bytes the
/// moment it is generated would send half a character to the terminal, which shows a replacement
/// glyph. So we hold back an incomplete character at the end of what we have, and print it when
/// the bytes that complete it arrive.
///
/// UTF-8 in one table (x = payload bits):
///
/// | first byte  | length | followed by          |
/// |-------------|-------:|----------------------|
/// | `0xxxxxxx`  | 1      | nothing (ASCII)      |
/// | `110xxxxx`  | 2      | one `10xxxxxx`       |
/// | `1110xxxx`  | 3      | two `10xxxxxx`       |
/// | `11110xxx`  | 4      | three `10xxxxxx`     |
///
/// A byte `10xxxxxx` is a continuation byte; anything else (`11111xxx`) never starts a character.
///
/// The rule: look back from the end, over at most three continuation bytes, for the byte that
/// starts the last character. If it announces a length longer than what follows it, that tail is
/// an incomplete character: keep it for later. Everything else is printed as it is, **including
/// invalid bytes** (a stray continuation byte, a lead byte followed by ASCII): we are a printer,
/// not a validator, and the terminal shows what the model produced. flush() at the end prints
/// whatever is still held, unchanged.
///
/// Python equivalent: `codecs.getincrementaldecoder("utf-8")(errors=...)`, except that it replaces
/// invalid bytes where we pass them through.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace gpt2 {

/// The length of the longest prefix of `bytes` that does not end inside an incomplete UTF-8
/// character: bytes.size() minus the length of an incomplete last character (0 to 3 bytes).
size_t utf8_complete_prefix(std::string_view bytes);

/// Turns a stream of byte chunks (one per token) into printable text chunks.
/// @code
///   gpt2::Utf8Stream stream;
///   for (int id : tokens) std::cout << stream.push(tokenizer.token_bytes(id)) << std::flush;
///   std::cout << stream.flush();
/// @endcode
class Utf8Stream {
 public:
  /// Adds `bytes` and returns what can be printed now: all held and new bytes except an
  /// incomplete character at the end, which is held for the next push().
  std::string push(std::string_view bytes);
  /// Returns the held bytes (an incomplete character, printed unchanged) and empties the buffer.
  std::string flush();
  /// The bytes held back, waiting for the rest of their character.
  const std::string& pending() const { return pending_; }

 private:
  std::string pending_;
};

}  // namespace gpt2
