// Encoding and decoding. Loading and saving the vocabulary files is in vocab_files.cpp.
#include "chapters/01_tokenizer/tokenizer.h"

#include <algorithm>
#include <cstring>
#include <queue>
#include <thread>

#include "chapters/01_tokenizer/pretokenize.h"
#include "common/error.h"

namespace gpt2 {

// ---------------------------------------------------------------------------------------------
// BPE inside one pre-token
// ---------------------------------------------------------------------------------------------
//
// The pre-token starts as one symbol per byte, kept in a doubly linked list (so removing a
// symbol is O(1)). A min-heap holds every adjacent pair that has a merge, ordered by (rank,
// position): the top is the lowest-rank merge, leftmost first. Popping it merges the two symbols
// and pushes the two new pairs the merged symbol forms with its neighbours. Heap entries whose
// symbols have changed since they were pushed are stale and skipped when popped (checking the two
// token ids is enough: a merged symbol always gets a new id). With n bytes there are at most n - 1
// merges and O(n) pushes, so the whole pre-token costs O(n log n), where rescanning all pairs
// after every merge (openai/gpt-2's encoder.py) would cost O(n^2).

namespace {

struct PairEntry {
  int rank;
  int pos;          // index of the left symbol (symbols keep their start index)
  int left, right;  // the token ids the pair had when pushed
  int merged;       // the id the merge makes
  bool operator>(const PairEntry& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
};

struct BpeScratch {
  std::vector<int> token, prev, next;
  std::vector<PairEntry> heap;  // used through std::push_heap / std::pop_heap
};

}  // namespace

void Tokenizer::bpe_into(std::string_view piece, std::vector<int>& out) const {
  const int n = static_cast<int>(piece.size());
  if (n == 1) {
    out.push_back(byte_id_[static_cast<unsigned char>(piece[0])]);
    return;
  }
  thread_local BpeScratch s;  // reused across calls: no allocation once it is big enough
  s.token.resize(n);
  s.prev.resize(n);
  s.next.resize(n);
  s.heap.clear();
  for (int i = 0; i < n; ++i) {
    s.token[i] = byte_id_[static_cast<unsigned char>(piece[i])];
    s.prev[i] = i - 1;
    s.next[i] = i + 1 < n ? i + 1 : -1;
  }
  auto push_pair = [&](int pos) {
    if (pos < 0 || s.next[pos] < 0) return;
    MergeTable::Merge m = merge_table_.find(s.token[pos], s.token[s.next[pos]]);
    if (m.rank < 0) return;
    s.heap.push_back({m.rank, pos, s.token[pos], s.token[s.next[pos]], m.id});
    std::push_heap(s.heap.begin(), s.heap.end(), std::greater<>{});
  };
  for (int i = 0; i + 1 < n; ++i) push_pair(i);

  while (!s.heap.empty()) {
    std::pop_heap(s.heap.begin(), s.heap.end(), std::greater<>{});
    PairEntry e = s.heap.back();
    s.heap.pop_back();
    const int right = s.next[e.pos];
    // Stale? (the left symbol was merged away or changed, or its right neighbour changed)
    if (s.token[e.pos] != e.left || right < 0 || s.token[right] != e.right) continue;
    s.token[e.pos] = e.merged;
    s.token[right] = -1;  // removed from the list
    s.next[e.pos] = s.next[right];
    if (s.next[right] >= 0) s.prev[s.next[right]] = e.pos;
    push_pair(s.prev[e.pos]);
    push_pair(e.pos);
  }
  for (int i = 0; i >= 0; i = s.next[i]) out.push_back(s.token[i]);
}

std::vector<int> Tokenizer::bpe(std::string_view piece) const {
  std::vector<int> out;
  if (!piece.empty()) bpe_into(piece, out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Encoding a text
// ---------------------------------------------------------------------------------------------

int Tokenizer::token_id(std::string_view bytes) const {
  std::span<const int> ids = piece_ids_.find(bytes);
  return ids.empty() ? -1 : ids[0];
}

void Tokenizer::encode_ordinary(std::string_view text, std::vector<int>& out, StringToIds& cache) const {
  // What one pre-token costs.
  auto encode_piece = [&](const StringKey& key) {
    const std::string_view piece = key.bytes;
    if (std::span<const int> cached = cache.find(key); !cached.empty()) {
      out.insert(out.end(), cached.begin(), cached.end());
      return;
    }
    // Shortcut (tiktoken takes it too): a pre-token that is itself a token ("Ġthe") is one id.
    // The answer goes into the cache as well: the cache holds just the words of this text, so it
    // stays small and fast, and the big vocabulary table is only asked once per distinct word.
    if (piece.size() <= max_token_length_) {
      if (std::span<const int> whole = piece_ids_.find(key); !whole.empty()) {
        out.push_back(whole[0]);
        cache.insert(key, whole);
        return;
      }
    }
    const size_t first = out.size();
    bpe_into(piece, out);
    if (out.size() - first <= StringToIds::kMaxLength)
      cache.insert(key, std::span<const int>(out.data() + first, out.size() - first));
  };

  // On a big, varied text the cache outgrows the CPU's own caches, and then a lookup's cost is
  // the wait for memory. So we work one pre-token ahead: find the next pre-token and prefetch its
  // slot, then look up the current one, and the two waits overlap.
  size_t pos = 0;
  size_t end = text.empty() ? 0 : next_pretoken_end(text, 0);
  StringKey key(text.substr(0, end));  // hashed once, looked up in two tables
  while (pos < text.size()) {
    const size_t next_end = end < text.size() ? next_pretoken_end(text, end) : end;
    const StringKey next(text.substr(end, next_end - end));
    cache.prefetch(next);
    if (key.bytes.size() > StringToIds::kMaxLength) {
      bpe_into(key.bytes, out);  // (a single "word" of 64 KB: no caching)
    } else {
      encode_piece(key);
    }
    pos = end;
    end = next_end;
    key = next;
  }
}

void Tokenizer::encode_append(std::string_view text, std::vector<int>& out, bool allow_special) const {
  // Real text repeats its words: a cache of pre-token -> ids, local to this call (so encode()
  // stays const and thread-safe), means BPE runs once per distinct word.
  StringToIds cache;
  if (!allow_special || specials_.empty()) {
    encode_ordinary(text, out, cache);
    return;
  }
  // Split at each literal special token (the earliest one first; the longer one when two start
  // at the same place) and encode the text between them ordinarily.
  size_t pos = 0;
  while (pos < text.size()) {
    size_t best = std::string_view::npos;
    const std::pair<std::string, int>* which = nullptr;
    for (const auto& sp : specials_) {
      size_t at = text.find(sp.first, pos);
      if (at < best ||
          (at == best && at != std::string_view::npos && sp.first.size() > which->first.size())) {
        best = at;
        which = &sp;
      }
    }
    if (which == nullptr) break;
    encode_ordinary(text.substr(pos, best - pos), out, cache);
    out.push_back(which->second);
    pos = best + which->first.size();
  }
  encode_ordinary(text.substr(pos), out, cache);
}

std::vector<int> Tokenizer::encode(std::string_view text, bool allow_special) const {
  std::vector<int> out;
  out.reserve(text.size() / 3);
  encode_append(text, out, allow_special);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

std::string_view Tokenizer::token_bytes(int id) const {
  GPT2_CHECK(id >= 0 && id < vocab_size(), "token id ", id, " is out of range (the vocabulary has ",
             vocab_size(), " tokens, ids 0..", vocab_size() - 1, ")");
  return std::string_view(token_arena_).substr(token_offset_[id], token_offset_[id + 1] - token_offset_[id]);
}

std::string Tokenizer::decode(std::span<const int> ids) const {
  // Two passes: the total length (which also checks every id), then the copy. Most tokens are
  // short, so we copy a fixed 16 bytes for them (one vector load and store; the arena and the
  // output both have 16 bytes of slack) and only call memcpy with a variable length for long ones.
  const int V = vocab_size();
  size_t total = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    const int id = ids[i];
    if (id < 0 || id >= V)
      fail("token id ", id, " at position ", i, " is out of range (the vocabulary has ", V,
           " tokens, ids 0..", V - 1, ")");
    total += token_offset_[id + 1] - token_offset_[id];
  }
  std::string out(total + 16, '\0');
  char* dst = out.data();
  const char* arena = token_arena_.data();
  for (const int id : ids) {
    const uint32_t begin = token_offset_[id], len = token_offset_[id + 1] - begin;
    if (len <= 16) {
      std::memcpy(dst, arena + begin, 16);
    } else {
      std::memcpy(dst, arena + begin, len);
    }
    dst += len;
  }
  out.resize(total);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Parallel encoding for data preparation
// ---------------------------------------------------------------------------------------------

std::vector<int> encode_parallel(const Tokenizer& tok, std::string_view text, int threads,
                                 bool allow_special) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const size_t min_chunk = 1 << 16;  // below this, threads cost more than they save
  threads = static_cast<int>(std::min<size_t>(threads, std::max<size_t>(1, text.size() / min_chunk)));
  if (threads == 1) return tok.encode(text, allow_special);

  // A safe cut: an ASCII white-space byte right after a printable ASCII byte. Letter, number and
  // punctuation runs always end there and white space never joins the token before it, so the
  // pre-tokenizer splits at that place whatever comes before. (A special token's text has no
  // white space, so it is never cut either.)
  auto is_safe_cut = [&](size_t p) {
    const unsigned char c = static_cast<unsigned char>(text[p]),
                        before = static_cast<unsigned char>(text[p - 1]);
    return (c == ' ' || c == '\n' || c == '\t' || c == '\r') && before > 0x20 && before < 0x7F;
  };
  std::vector<size_t> cuts{0};
  for (int t = 1; t < threads; ++t) {
    size_t p = std::max(cuts.back() + 1, text.size() * static_cast<size_t>(t) / static_cast<size_t>(threads));
    while (p < text.size() && !is_safe_cut(p)) ++p;
    if (p < text.size()) cuts.push_back(p);
  }
  cuts.push_back(text.size());

  const size_t chunks = cuts.size() - 1;
  std::vector<std::vector<int>> parts(chunks);
  std::vector<std::exception_ptr> errors(chunks);
  std::vector<std::thread> pool;
  for (size_t c = 0; c < chunks; ++c) {
    pool.emplace_back([&, c] {
      try {
        parts[c] = tok.encode(text.substr(cuts[c], cuts[c + 1] - cuts[c]), allow_special);
      } catch (...) {
        errors[c] = std::current_exception();
      }
    });
  }
  for (std::thread& th : pool) th.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  size_t total = 0;
  for (const auto& p : parts) total += p.size();
  std::vector<int> out;
  out.reserve(total);
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

}  // namespace gpt2
