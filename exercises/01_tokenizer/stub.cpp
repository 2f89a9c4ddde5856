// Exercises 01 (student version): replace each `throw` with your code, then run
//   ./build-student/bin/exercise_01_tokenizer
// (see exercises/01_tokenizer/README.md).
#include "common/error.h"
#include "exercise.h"

namespace exercise {

std::array<uint32_t, 256> byte_to_unicode_table() {
  // TODO(01.1): first give the printable bytes ('!'..'~', 0xA1..0xAC, 0xAE..0xFF) their own value,
  // then walk the bytes 0..255 again and give each remaining one 0x100 + (how many came before it).
  throw gpt2::Error("exercise 01.1 byte_to_unicode_table: not implemented yet");
}

std::map<std::pair<int, int>, int64_t> count_pairs(const std::vector<std::vector<int>>& words,
                                                   const std::vector<int64_t>& counts) {
  // TODO(01.2): for each word w and each i, add counts[w] to the entry of (w[i], w[i + 1]).
  (void)words;
  (void)counts;
  throw gpt2::Error("exercise 01.2 count_pairs: not implemented yet");
}

std::vector<int> apply_merge(const std::vector<int>& word, int a, int b, int new_id) {
  // TODO(01.2): walk the word; where word[i] == a and word[i + 1] == b, emit new_id and skip both,
  // otherwise emit word[i].
  (void)word;
  (void)a;
  (void)b;
  (void)new_id;
  throw gpt2::Error("exercise 01.2 apply_merge: not implemented yet");
}

size_t ascii_pretoken_end(std::string_view text, size_t pos) {
  // TODO(01.3): in this order: (1) an apostrophe followed by s t m d, or re ve ll -> a contraction;
  // (2) a space followed by a letter, digit or other non-space -> the space plus that run;
  // (3) a letter, digit or other run; (4) a white-space run: all of it at the end of the text,
  // otherwise all but its last character (or the one character if the run has length one).
  (void)text;
  (void)pos;
  throw gpt2::Error("exercise 01.3 ascii_pretoken_end: not implemented yet");
}

std::vector<int> bpe_word(std::string_view word, const gpt2::Tokenizer& tok) {
  // TODO(01.4): ids = one token per byte; loop: find the adjacent pair with the smallest
  // tok.find_merge(a, b).rank >= 0 (the first such pair on ties); stop if none; replace the pair by
  // tok.find_merge(a, b).id.
  (void)word;
  (void)tok;
  throw gpt2::Error("exercise 01.4 bpe_word: not implemented yet");
}

}  // namespace exercise
