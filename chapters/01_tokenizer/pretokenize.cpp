#include "chapters/01_tokenizer/pretokenize.h"

#include <utf8proc.h>

#include <array>

#include "chapters/01_tokenizer/utf8.h"

namespace gpt2 {

bool is_unicode_white_space(uint32_t cp) {
  // Unicode 15 PropList.txt, property White_Space. Note what is NOT here: U+200B ZERO WIDTH
  // SPACE, U+FEFF ZERO WIDTH NO-BREAK SPACE (the BOM) and U+180E are format characters (Cf).
  if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);  // space, \t \n \v \f \r
  if (cp < 0x85) return false;
  switch (cp) {
    case 0x0085:  // NEXT LINE (NEL)
    case 0x00A0:  // NO-BREAK SPACE
    case 0x1680:  // OGHAM SPACE MARK
    case 0x2028:  // LINE SEPARATOR
    case 0x2029:  // PARAGRAPH SEPARATOR
    case 0x202F:  // NARROW NO-BREAK SPACE
    case 0x205F:  // MEDIUM MATHEMATICAL SPACE
    case 0x3000:  // IDEOGRAPHIC SPACE
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;  // EN QUAD .. HAIR SPACE
  }
}

CharClass char_class(uint32_t cp) {
  if (is_unicode_white_space(cp)) return CharClass::WhiteSpace;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
      return CharClass::Letter;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return CharClass::Number;
    default:
      return CharClass::Other;
  }
}

namespace {

// ASCII is most of most text. Its classes are known without any Unicode table, so this one is
// computed at compile time and the common case costs one load.
constexpr std::array<CharClass, 128> kAsciiClass = [] {
  std::array<CharClass, 128> t{};
  for (int c = 0; c < 128; ++c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      t[c] = CharClass::Letter;
    } else if (c >= '0' && c <= '9') {
      t[c] = CharClass::Number;
    } else if (c == ' ' || (c >= '\t' && c <= '\r')) {
      t[c] = CharClass::WhiteSpace;
    } else {
      t[c] = CharClass::Other;
    }
  }
  return t;
}();

// Looking a character up in utf8proc's tables takes a few dependent loads and a function call.
// So we precompute the class of every code point of the Basic Multilingual Plane (U+0000..U+FFFF,
// 64 KB, filled on first use) and ask utf8proc only for the rare characters above it (emoji,
// historic scripts).
const std::array<CharClass, 0x10000>& bmp_classes() {
  static const auto* table = [] {
    auto* t = new std::array<CharClass, 0x10000>;
    for (uint32_t c = 0; c < 0x10000; ++c) (*t)[c] = char_class(c);
    return t;
  }();
  return *table;
}

struct Char {
  CharClass cls;
  int length;  // in bytes
};

// The class and byte length of the non-ASCII character at text[pos]. Invalid UTF-8: one byte of
// class Other.
Char non_ascii_char_at(std::string_view text, size_t pos) {
  Utf8Char c = decode_utf8(text, pos);
  if (!c.valid) return {CharClass::Other, 1};
  return {c.cp < 0x10000 ? bmp_classes()[c.cp] : char_class(c.cp), c.length};
}

// The class and byte length of the character at text[pos].
inline Char char_at(std::string_view text, size_t pos) {
  const auto b = static_cast<unsigned char>(text[pos]);
  if (b < 0x80) return {kAsciiClass[b], 1};
  return non_ascii_char_at(text, pos);
}

// The end of the run of characters of class `cls` that starts at `pos`.
inline size_t run_end(std::string_view text, size_t pos, CharClass cls) {
  while (pos < text.size()) {
    Char c = char_at(text, pos);
    if (c.cls != cls) break;
    pos += static_cast<size_t>(c.length);
  }
  return pos;
}

// Rule 1: the length of a contraction starting at text[pos] == '\'', or 0.
inline size_t contraction_length(std::string_view text, size_t pos) {
  const size_t left = text.size() - pos;
  if (left >= 2) {
    char a = text[pos + 1];
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if (left >= 3) {
      char b = text[pos + 2];
      if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    }
  }
  return 0;
}

}  // namespace

size_t next_pretoken_end(std::string_view text, size_t pos) {
  const size_t n = text.size();
  // Rule 1: contractions.
  if (text[pos] == '\'') {
    if (size_t len = contraction_length(text, pos)) return pos + len;
  }
  Char first = char_at(text, pos);
  // Rules 2-4: " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+". A single space (U+0020, not any white
  // space) joins the run that follows it when that run is not white space.
  if (text[pos] == ' ' && pos + 1 < n) {
    Char next = char_at(text, pos + 1);
    if (next.cls != CharClass::WhiteSpace) return run_end(text, pos + 1, next.cls);
  }
  if (first.cls != CharClass::WhiteSpace) return run_end(text, pos, first.cls);
  // Rules 5 and 6: a run of white space. "\s+(?!\S)" takes the whole run when it reaches the end
  // of the text; before a non-space it backs off by one character (so that last space can start
  // the next pre-token), unless the run is a single character, which rule 6 "\s+" then takes.
  size_t last_start = pos;  // where the run's last character starts
  size_t end = pos + static_cast<size_t>(first.length);
  while (end < n) {
    Char c = char_at(text, end);
    if (c.cls != CharClass::WhiteSpace) break;
    last_start = end;
    end += static_cast<size_t>(c.length);
  }
  if (end == n || last_start == pos) return end;
  return last_start;
}

std::vector<std::string_view> pretokenize(std::string_view text) {
  std::vector<std::string_view> out;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = next_pretoken_end(text, pos);
    out.push_back(text.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

}  // namespace gpt2
