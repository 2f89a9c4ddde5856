/// @file byte_unicode.h
/// @brief GPT-2's byte-to-unicode alphabet: 256 printable characters standing for the 256 bytes.
///
/// GPT-2's vocabulary files (encoder.json, vocab.bpe) are text, and a merge line is "A B" with a
/// space in the middle. Raw bytes cannot go there directly: a space byte would be ambiguous, a
/// newline would end the line, and bytes >= 0x80 alone are not valid UTF-8. So OpenAI gave every
/// byte a printable stand-in character:
///
///   - the 188 bytes that are already printable Latin-1 characters (`!`..`~`, `¡`..`¬`, `®`..`ÿ`)
///     stand for themselves;
///   - the other 68 bytes (control characters, space, 0x7F..0xA0, 0xAD) are mapped, in increasing
///     byte order, to U+0100, U+0101, ... U+0143. A space (0x20) becomes `Ġ` (U+0120), a newline
///     (0x0A) `Ċ` (U+010A).
///
/// The token " the" is therefore written "Ġthe" in encoder.json. Python: `bytes_to_unicode()` in
/// openai/gpt-2's encoder.py. The same order also fixes the ids of the 256 single-byte tokens:
/// id i is the i-th byte of that list (ids 0..93 are `!`..`~`, ..., id 220 is the space).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace gpt2 {

/// The stand-in code point for each byte: byte_to_unicode()[0x20] == 0x120 ('Ġ').
const std::array<uint32_t, 256>& byte_to_unicode();

/// The bytes in GPT-2's order: byte_order()[i] is the byte whose single-byte token has id i.
/// (byte_order()[0] == '!', byte_order()[220] == ' ').
const std::array<uint8_t, 256>& byte_order();

/// Raw bytes -> their stand-in characters, as UTF-8 ("\x20the" -> "Ġthe").
std::string bytes_to_unicode_string(std::string_view bytes);

/// The inverse: "Ġthe" -> " the". Returns false (and leaves `bytes` partly written) when the text
/// is not valid UTF-8 or holds a character outside the 256-character alphabet; `bad_char` then
/// gets that character's code point (or 0xFFFFFFFF for invalid UTF-8).
bool unicode_string_to_bytes(std::string_view text, std::string& bytes, uint32_t& bad_char);

/// Appends the UTF-8 encoding of code point `cp` to `out`.
void append_utf8(uint32_t cp, std::string& out);

}  // namespace gpt2
