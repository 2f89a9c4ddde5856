#include "chapters/01_tokenizer/byte_unicode.h"

#include "chapters/01_tokenizer/utf8.h"

namespace gpt2 {

namespace {

// Printable Latin-1 bytes keep their own character; Python's
//   bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + ...
bool is_printable_latin1(int b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
}

struct Tables {
  std::array<uint32_t, 256> to_unicode{};
  std::array<uint8_t, 256> order{};
  Tables() {
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      if (is_printable_latin1(b))
        order[n++] = static_cast<uint8_t>(b), to_unicode[b] = static_cast<uint32_t>(b);
    }
    int shifted = 0;  // the remaining bytes, in increasing order, get U+0100, U+0101, ...
    for (int b = 0; b < 256; ++b) {
      if (!is_printable_latin1(b)) {
        order[n++] = static_cast<uint8_t>(b);
        to_unicode[b] = 256u + static_cast<uint32_t>(shifted++);
      }
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

const std::array<uint32_t, 256>& byte_to_unicode() {
  return tables().to_unicode;
}
const std::array<uint8_t, 256>& byte_order() {
  return tables().order;
}

void append_utf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string bytes_to_unicode_string(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) append_utf8(byte_to_unicode()[b], out);
  return out;
}

bool unicode_string_to_bytes(std::string_view text, std::string& bytes, uint32_t& bad_char) {
  // The inverse map: at most U+0143, so a small array indexed by code point does it.
  static const std::array<int, 0x144> from_unicode = [] {
    std::array<int, 0x144> inv{};
    inv.fill(-1);
    for (int b = 0; b < 256; ++b) inv[byte_to_unicode()[b]] = b;
    return inv;
  }();
  bytes.clear();
  size_t pos = 0;
  while (pos < text.size()) {
    Utf8Char c = decode_utf8(text, pos);
    if (!c.valid) {
      bad_char = 0xFFFFFFFF;
      return false;
    }
    if (c.cp >= from_unicode.size() || from_unicode[c.cp] < 0) {
      bad_char = c.cp;
      return false;
    }
    bytes += static_cast<char>(from_unicode[c.cp]);
    pos += c.length;
  }
  return true;
}

}  // namespace gpt2
