// Streaming UTF-8: see utf8_stream.h for the byte patterns and the rule.
#include "chapters/07_sampling/utf8_stream.h"

namespace gpt2 {

// How many bytes a character starting with `lead` has: 1 to 4, or 0 if `lead` cannot start one
// (a continuation byte 10xxxxxx, or 11111xxx).
static int utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;            // 0xxxxxxx
  if ((lead & 0xE0) == 0xC0) return 2;  // 110xxxxx
  if ((lead & 0xF0) == 0xE0) return 3;  // 1110xxxx
  if ((lead & 0xF8) == 0xF0) return 4;  // 11110xxx
  return 0;
}

static bool is_continuation(unsigned char byte) {
  return (byte & 0xC0) == 0x80;
}

size_t utf8_complete_prefix(std::string_view bytes) {
  const size_t n = bytes.size();
  // Walk back over up to three continuation bytes to the byte that starts the last character.
  size_t continuations = 0;
  while (continuations < 3 && continuations < n &&
         is_continuation(static_cast<unsigned char>(bytes[n - 1 - continuations]))) {
    ++continuations;
  }
  if (continuations == n) return n;  // only continuation bytes (or nothing): invalid, print them
  const size_t start = n - 1 - continuations;
  const int length = utf8_length(static_cast<unsigned char>(bytes[start]));
  // Incomplete: a lead byte announcing more bytes than follow it. Anything else (complete, or a
  // byte that cannot start a character) is printed as it is.
  if (length > 1 && static_cast<size_t>(length) > continuations + 1) return start;
  return n;
}

std::string Utf8Stream::push(std::string_view bytes) {
  pending_.append(bytes);
  const size_t ready = utf8_complete_prefix(pending_);
  std::string out = pending_.substr(0, ready);
  pending_.erase(0, ready);
  return out;
}

std::string Utf8Stream::flush() {
  std::string out;
  out.swap(pending_);
  return out;
}

}  // namespace gpt2
