/// @file utf8.h
/// @brief Decoding one UTF-8 character, treating anything invalid as a single stray byte.
///
/// UTF-8 writes a code point in 1 to 4 bytes:
///
///   U+0000..U+007F     0xxxxxxx
///   U+0080..U+07FF     110xxxxx 10xxxxxx
///   U+0800..U+FFFF     1110xxxx 10xxxxxx 10xxxxxx            (except the surrogates D800..DFFF)
///   U+10000..U+10FFFF  11110xxx 10xxxxxx 10xxxxxx 10xxxxxx
///
/// Anything else (a lone continuation byte, a truncated sequence, an over-long encoding, a
/// surrogate, a value above U+10FFFF) is invalid. GPT-2's tokenizer works on bytes, so an invalid
/// byte is not an error: the pre-tokenizer sees it as one character of its own.
#pragma once

#include <cstdint>
#include <string_view>

namespace gpt2 {

/// One decoded character: its code point and how many bytes it took. An invalid byte gives
/// valid == false, length 1 and cp = the byte's value.
struct Utf8Char {
  uint32_t cp;
  int length;
  bool valid;
};

/// Decodes the character that starts at text[pos] (pos < text.size()).
inline Utf8Char decode_utf8(std::string_view text, size_t pos) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data()) + pos;
  const size_t left = text.size() - pos;
  const unsigned b0 = s[0];
  if (b0 < 0x80) return {b0, 1, true};
  const Utf8Char invalid{b0, 1, false};
  auto cont = [&](size_t i) { return i < left && (s[i] & 0xC0) == 0x80; };
  if (b0 >= 0xC2 && b0 <= 0xDF) {  // 0xC0, 0xC1 would be over-long encodings of ASCII
    if (!cont(1)) return invalid;
    return {((b0 & 0x1Fu) << 6) | (s[1] & 0x3Fu), 2, true};
  }
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (!cont(1) || !cont(2)) return invalid;
    uint32_t cp = ((b0 & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
    if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)) return invalid;  // over-long or surrogate
    return {cp, 3, true};
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return invalid;
    uint32_t cp = ((b0 & 0x07u) << 18) | ((s[1] & 0x3Fu) << 12) | ((s[2] & 0x3Fu) << 6) | (s[3] & 0x3Fu);
    if (cp < 0x10000 || cp > 0x10FFFF) return invalid;
    return {cp, 4, true};
  }
  return invalid;
}

}  // namespace gpt2
