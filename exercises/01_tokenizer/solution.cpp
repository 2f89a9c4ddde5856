// Exercises 01 (solution): the answers are what the chapter's code does.
#include <span>

#include "chapters/01_tokenizer/byte_unicode.h"
#include "chapters/01_tokenizer/pretokenize.h"
#include "chapters/01_tokenizer/train_bpe.h"
#include "exercise.h"

namespace exercise {

std::array<uint32_t, 256> byte_to_unicode_table() {
  return gpt2::byte_to_unicode();
}

std::map<std::pair<int, int>, int64_t> count_pairs(const std::vector<std::vector<int>>& words,
                                                   const std::vector<int64_t>& counts) {
  std::map<std::pair<int, int>, int64_t> out;
  for (const auto& [key, count] : gpt2::count_pairs(words, counts))
    out[{static_cast<int>(key >> 32), static_cast<int>(key & 0xFFFFFFFFu)}] = count;
  return out;
}

std::vector<int> apply_merge(const std::vector<int>& word, int a, int b, int new_id) {
  std::vector<int> out;
  gpt2::merge_pair(word, a, b, new_id, out);
  return out;
}

size_t ascii_pretoken_end(std::string_view text, size_t pos) {
  return gpt2::next_pretoken_end(text, pos);
}

std::vector<int> bpe_word(std::string_view word, const gpt2::Tokenizer& tok) {
  return tok.bpe(word);
}

}  // namespace exercise
