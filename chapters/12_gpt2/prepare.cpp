#include "chapters/12_gpt2/prepare.h"

#include <algorithm>
#include <cmath>

#include "chapters/06_training/token_file.h"

namespace gpt2 {

size_t split_point(std::string_view text, double val_fraction) {
  const size_t n = text.size();
  if (!(val_fraction > 0) || n == 0) return n;
  const auto val_bytes = static_cast<size_t>(std::llround(val_fraction * static_cast<double>(n)));
  size_t cut = n - std::min(val_bytes, n);
  // A line starts at `cut` if the byte before it is a line break; otherwise at the next one.
  const size_t newline = text.find('\n', cut == 0 ? 0 : cut - 1);
  if (newline != std::string_view::npos && newline + 1 < n) return newline + 1;
  // No later line: cut inside the last line, but not inside a character (10xxxxxx continues one).
  while (cut < n && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) ++cut;
  return cut;
}

void write_tokens(const std::filesystem::path& path, std::span<const int> ids) {
  write_token_file(path, std::span<const int32_t>(ids.data(), ids.size()));
}

}  // namespace gpt2
