/// @file train_bpe.h
/// @brief Learning BPE merges from a text, the way GPT-2's vocabulary was made.
///
/// Start from the 256 single bytes. Count every adjacent pair of tokens inside every pre-token
/// of the text (pairs never cross a pre-token boundary, exactly as in encoding). The most frequent
/// pair becomes merge 0 and a new token; rewrite the text with it; count again; repeat until the
/// vocabulary has the size asked for.
///
/// Two things make it fast. The text is reduced to its distinct pre-tokens with their counts
/// (tiny Shakespeare's 1.1 MB is about 26,000 distinct words), and the pair counts are kept
/// up to date incrementally: a merge only touches the words that contain its pair, so only their
/// pairs are recounted, and a heap with lazy deletion finds the next most frequent pair.
///
/// Ties are broken deterministically: among pairs with the same count, the one with the smaller
/// left id wins, then the smaller right id (older tokens first). The same text and size always
/// give the same merges, on any machine.
///
/// Python: Hugging Face `tokenizers.ByteLevelBPETokenizer().train(...)` (it breaks ties by the
/// pair's text instead, so its merges can differ in order among equal counts).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "chapters/01_tokenizer/tokenizer.h"

namespace gpt2 {

/// Packs a pair of token ids into one 64-bit key: (left << 32) | right.
inline uint64_t pair_key(int left, int right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

/// Counts adjacent pairs: counts[pair_key(a, b)] += word_counts[w] for each place where a is
/// followed by b in words[w]. The first step of training. Python: `collections.Counter` over `zip(w, w[1:])`.
std::unordered_map<uint64_t, int64_t> count_pairs(const std::vector<std::vector<int>>& words,
                                                  const std::vector<int64_t>& word_counts);

/// Replaces each occurrence of (a, b) in `ids`, left to right and without overlap, by `new_id`,
/// writing the result to `out`: merge (5, 5) -> 9 turns [5, 5, 5, 7] into [9, 5, 7]. Returns
/// whether anything was merged.
bool merge_pair(std::span<const int> ids, int a, int b, int new_id, std::vector<int>& out);

/// Learns a byte-level BPE tokenizer on `text` with GPT-2's pre-tokenization.
/// `vocab_size` counts everything: the 256 bytes, the merges and `<|endoftext|>` (which gets
/// the last id, as in GPT-2's 50,257). The smallest is 256: the bytes alone, no merges and no
/// `<|endoftext|>` (eot_id() is then -1); 257 adds `<|endoftext|>`. If the text runs out of pairs
/// (every pre-token is a single token), training stops early with a smaller vocabulary.
/// `progress(merges_done, merges_wanted)` is called now and then when given.
Tokenizer train_bpe(std::string_view text, int vocab_size,
                    const std::function<void(int, int)>& progress = nullptr);

}  // namespace gpt2
