// Exercises 01 (your version): replace each `throw` with your code, then run
//   scripts/check_exercises.sh 01
// (the tasks, with the rules, are in exercises/01_tokenizer/README.md).
#include "common/error.h"
#include "exercise.h"

namespace exercise {

std::array<uint32_t, 256> byte_to_unicode_table() {
  // TODO(01.1): GPT-2's byte-to-unicode alphabet (chapter 01, "The byte-to-unicode alphabet").
  throw gpt2::Error("exercise 01.1 byte_to_unicode_table: not implemented yet");
}

std::map<std::pair<int, int>, int64_t> count_pairs(const std::vector<std::vector<int>>& words,
                                                   const std::vector<int64_t>& counts) {
  // TODO(01.2): the weighted count of every adjacent pair (see exercise.h for an example).
  (void)words;
  (void)counts;
  throw gpt2::Error("exercise 01.2 count_pairs: not implemented yet");
}

std::vector<int> apply_merge(const std::vector<int>& word, int a, int b, int new_id) {
  // TODO(01.2): one merge, left to right, without overlap.
  (void)word;
  (void)a;
  (void)b;
  (void)new_id;
  throw gpt2::Error("exercise 01.2 apply_merge: not implemented yet");
}

size_t ascii_pretoken_end(std::string_view text, size_t pos) {
  // TODO(01.3): GPT-2's pre-tokenizer rules, for ASCII (chapter 01, "Pre-tokenization"; the
  // exercise README lists them for ASCII).
  (void)text;
  (void)pos;
  throw gpt2::Error("exercise 01.3 ascii_pretoken_end: not implemented yet");
}

std::vector<int> bpe_word(std::string_view word, const gpt2::Tokenizer& tok) {
  // TODO(01.4): encode one pre-token with GPT-2's merges (chapter 01, "Byte-pair merges").
  (void)word;
  (void)tok;
  throw gpt2::Error("exercise 01.4 bpe_word: not implemented yet");
}

std::vector<std::pair<int, int>> learn_merges(std::vector<std::vector<int>> words,
                                              const std::vector<int64_t>& counts, int first_id,
                                              int n_merges) {
  // TODO(01.5): the training loop of chapter 01's "Training a BPE of your own", recounting every
  // pair after every merge. Your 01.2 functions may help.
  (void)words;
  (void)counts;
  (void)first_id;
  (void)n_merges;
  throw gpt2::Error("exercise 01.5 learn_merges: not implemented yet");
}

}  // namespace exercise
