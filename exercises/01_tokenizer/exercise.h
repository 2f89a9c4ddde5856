/// @file exercises/01_tokenizer/exercise.h
/// @brief Exercises 01: the byte alphabet, one BPE merge step, the pre-tokenizer's rules, BPE on
/// one word, and learning merges.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string_view>
#include <utility>
#include <vector>

#include "chapters/01_tokenizer/tokenizer.h"

namespace exercise {

/// 01.1: GPT-2's byte-to-unicode table. Bytes '!'..'~', 0xA1..0xAC and 0xAE..0xFF map to
/// themselves; the other 68 bytes, in increasing order, map to 0x100, 0x101, ...
/// Example: table[' '] == 0x120, table['A'] == 'A', table[0] == 0x100.
std::array<uint32_t, 256> byte_to_unicode_table();

/// 01.2a: how often each adjacent pair (a, b) occurs in the words, each word weighted by its count.
/// Example: words {{1, 2, 1, 2}, {2, 1}} with counts {3, 1} -> {(1,2): 6, (2,1): 4}.
std::map<std::pair<int, int>, int64_t> count_pairs(const std::vector<std::vector<int>>& words,
                                                   const std::vector<int64_t>& counts);

/// 01.2b: the word with every occurrence of (a, b), left to right and without overlap, replaced
/// by new_id. Example: apply_merge({5, 5, 5, 7}, 5, 5, 9) == {9, 5, 7}.
std::vector<int> apply_merge(const std::vector<int>& word, int a, int b, int new_id);

/// 01.3: the end of the pre-token starting at byte `pos` of an ASCII text, by GPT-2's rules:
/// contractions ('s 't 're 've 'm 'll 'd, lower case only), an optional space followed by a run of
/// letters, of digits, or of other non-space characters, and runs of white space that leave their
/// last space to the next word (unless they end the text). ASCII only: letters are [A-Za-z],
/// digits [0-9], white space " \t\n\v\f\r".
size_t ascii_pretoken_end(std::string_view text, size_t pos);

/// 01.4: BPE on one pre-token with the tokenizer's merges: start from one token per byte
/// (tok.token_id of the one-byte string) and repeatedly merge the adjacent pair with the lowest
/// rank (tok.find_merge(a, b): rank -1 means "no merge"), the leftmost one if it occurs several
/// times, until no pair can merge. Example (GPT-2): " world" -> {995}; "Hello" -> {15496}.
std::vector<int> bpe_word(std::string_view word, const gpt2::Tokenizer& tok);

/// 01.5: BPE training, the plain way: n_merges times, find the most frequent adjacent pair over
/// all words (each word weighted by its count; ties go to the smaller left id, then the smaller
/// right id), record it, and rewrite every word with it as the new token first_id + k (k = 0, 1,
/// ...). Stops early when no word has two tokens left. Returns the merges in order.
std::vector<std::pair<int, int>> learn_merges(std::vector<std::vector<int>> words,
                                              const std::vector<int64_t>& counts, int first_id, int n_merges);

}  // namespace exercise
