#include "chapters/01_tokenizer/train_bpe.h"

#include <queue>
#include <unordered_map>

#include "chapters/01_tokenizer/byte_unicode.h"
#include "chapters/01_tokenizer/pretokenize.h"
#include "common/error.h"

namespace gpt2 {

namespace {

using PairKey = uint64_t;  // (left id << 32) | right id
int left_of(PairKey k) {
  return static_cast<int>(k >> 32);
}
int right_of(PairKey k) {
  return static_cast<int>(k & 0xFFFFFFFFu);
}

// A heap entry: a pair and its count when pushed. The top is the highest count, then the smaller
// (left, right): the documented tie-break.
struct Candidate {
  int64_t count;
  PairKey pair;
  bool operator<(const Candidate& o) const { return count != o.count ? count < o.count : pair > o.pair; }
};

}  // namespace

std::unordered_map<uint64_t, int64_t> count_pairs(const std::vector<std::vector<int>>& words,
                                                  const std::vector<int64_t>& word_counts) {
  std::unordered_map<uint64_t, int64_t> counts;
  for (size_t w = 0; w < words.size(); ++w) {
    for (size_t i = 0; i + 1 < words[w].size(); ++i)
      counts[pair_key(words[w][i], words[w][i + 1])] += word_counts[w];
  }
  return counts;
}

bool merge_pair(std::span<const int> ids, int a, int b, int new_id, std::vector<int>& out) {
  out.clear();
  bool changed = false;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i + 1 < ids.size() && ids[i] == a && ids[i + 1] == b) {
      out.push_back(new_id);
      ++i;  // the right half is consumed too
      changed = true;
    } else {
      out.push_back(ids[i]);
    }
  }
  return changed;
}

Tokenizer train_bpe(std::string_view text, int vocab_size, const std::function<void(int, int)>& progress) {
  GPT2_CHECK(vocab_size >= 256, "BPE training: vocabulary size ", vocab_size,
             " is too small; it must be at least 256 (one token per byte)");
  if (vocab_size == 256) return Tokenizer::from_merges({}, {});  // bytes only: no room for <|endoftext|>
  const int merges_wanted = vocab_size - 257;

  // 1. The distinct pre-tokens ("words") and how often each occurs, in order of first appearance.
  std::vector<std::vector<int>> words;  // each word as its current token ids
  std::vector<int64_t> word_count;
  {
    std::array<int, 256> byte_id{};
    for (int i = 0; i < 256; ++i) byte_id[byte_order()[i]] = i;
    std::unordered_map<std::string_view, int> index;
    for (size_t pos = 0; pos < text.size();) {
      size_t end = next_pretoken_end(text, pos);
      std::string_view w = text.substr(pos, end - pos);
      pos = end;
      auto [it, fresh] = index.emplace(w, static_cast<int>(words.size()));
      if (fresh) {
        std::vector<int> ids;
        for (unsigned char c : w) ids.push_back(byte_id[c]);
        words.push_back(std::move(ids));
        word_count.push_back(0);
      }
      ++word_count[static_cast<size_t>(it->second)];
    }
  }

  // 2. Pair counts (weighted by word counts) and, for each pair, the words it occurs in. A word
  //    stays in a pair's list after the pair has left it; we notice when we look at the word.
  std::unordered_map<PairKey, int64_t> pair_count = count_pairs(words, word_count);
  std::unordered_map<PairKey, std::vector<int>> pair_words;
  for (size_t w = 0; w < words.size(); ++w) {
    const auto& ids = words[w];
    for (size_t i = 0; i + 1 < ids.size(); ++i) {
      auto& list = pair_words[pair_key(ids[i], ids[i + 1])];
      if (list.empty() || list.back() != static_cast<int>(w)) list.push_back(static_cast<int>(w));
    }
  }
  std::priority_queue<Candidate> heap;
  for (const auto& [k, c] : pair_count) heap.push({c, k});

  // 3. Merge, merge, merge.
  std::vector<std::pair<int, int>> merges;
  std::vector<int> last_seen(words.size(), -1);  // the merge that last rewrote each word
  std::unordered_map<PairKey, int64_t> delta;    // count changes caused by one merge
  std::vector<int> rewritten;
  while (static_cast<int>(merges.size()) < merges_wanted) {
    // The most frequent pair; entries whose count has changed since they were pushed are stale.
    Candidate top{0, 0};
    bool found = false;
    while (!heap.empty()) {
      top = heap.top();
      heap.pop();
      auto it = pair_count.find(top.pair);
      if (it != pair_count.end() && it->second == top.count && top.count > 0) {
        found = true;
        break;
      }
    }
    if (!found) break;  // no pairs left: every word is a single token
    const int a = left_of(top.pair), b = right_of(top.pair);
    const int new_id = 256 + static_cast<int>(merges.size());
    merges.emplace_back(a, b);

    // Rewrite every word that contains (a, b): replace each occurrence, left to right, by new_id,
    // and record how the word's pair counts change (all its old pairs out, all new pairs in).
    delta.clear();
    const int merge_index = static_cast<int>(merges.size());
    for (int w : pair_words[top.pair]) {
      if (last_seen[static_cast<size_t>(w)] == merge_index) continue;  // listed twice
      last_seen[static_cast<size_t>(w)] = merge_index;
      std::vector<int>& ids = words[static_cast<size_t>(w)];
      const bool changed = merge_pair(ids, a, b, new_id, rewritten);
      if (!changed) continue;
      const int64_t c = word_count[static_cast<size_t>(w)];
      for (size_t i = 0; i + 1 < ids.size(); ++i) delta[pair_key(ids[i], ids[i + 1])] -= c;
      for (size_t i = 0; i + 1 < rewritten.size(); ++i) {
        PairKey k = pair_key(rewritten[i], rewritten[i + 1]);
        delta[k] += c;
        if (rewritten[i] == new_id || rewritten[i + 1] == new_id) {
          auto& list = pair_words[k];
          if (list.empty() || list.back() != w) list.push_back(w);
        }
      }
      ids.swap(rewritten);
    }
    for (const auto& [k, d] : delta) {
      if (d == 0) continue;
      int64_t& count = pair_count[k];
      count += d;
      if (count > 0) heap.push({count, k});
    }
    pair_words.erase(top.pair);
    if (progress && (merges.size() % 64 == 0 || static_cast<int>(merges.size()) == merges_wanted))
      progress(static_cast<int>(merges.size()), merges_wanted);
  }
  return Tokenizer::from_merges(merges);
}

}  // namespace gpt2
