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

#include <functional>
#include <string_view>

#include "chapters/01_tokenizer/tokenizer.h"

namespace gpt2 {

/// Learns a byte-level BPE tokenizer on `text` with GPT-2's pre-tokenization.
/// `vocab_size` counts everything: the 256 bytes, the merges and `<|endoftext|>` (which gets
/// the last id, as in GPT-2's 50,257), so it must be at least 257. If the text runs out of pairs
/// (every pre-token is a single token), training stops early with a smaller vocabulary.
/// `progress(merges_done, merges_wanted)` is called now and then when given.
Tokenizer train_bpe(std::string_view text, int vocab_size,
                    const std::function<void(int, int)>& progress = nullptr);

}  // namespace gpt2
