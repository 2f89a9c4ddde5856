/// @file flat_maps.h
/// @brief Two small open-addressing hash tables for the tokenizer's hot loops.
///
/// Encoding looks up every pre-token in a table of byte strings and every adjacent pair of
/// tokens in a table of merges; with std::unordered_map each lookup chases a pointer to a
/// separately allocated node and hashes with a general-purpose function. These tables keep
/// everything in flat arrays (linear probing, power-of-two capacity, at most half full), which is
/// what makes the tokenizer several times faster. They only grow: nothing is ever erased.
/// Python's equivalent is simply a dict; tiktoken uses Rust's HashMap with a fast hasher.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace gpt2 {

/// A fast non-cryptographic hash of a short byte string (8 bytes at a time, multiply and mix).
inline uint64_t hash_bytes(std::string_view s) {
  const uint64_t k = 0x9E3779B97F4A7C15ull;  // 2^64 / golden ratio
  uint64_t h = s.size() * k;
  const char* p = s.data();
  size_t n = s.size();
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * k;
    h ^= h >> 32;
  }
  if (n > 0) {
    uint64_t w = 0;
    std::memcpy(&w, p, n);
    h = (h ^ w) * k;
    h ^= h >> 32;
  }
  return h * k;
}

/// a[0..n) == b[0..n)? Most keys are a few bytes long, where a plain loop beats calling memcmp.
inline bool bytes_equal(const char* a, const char* b, size_t n) {
  if (n > 16) return std::memcmp(a, b, n) == 0;
  for (size_t i = 0; i < n; ++i)
    if (a[i] != b[i]) return false;
  return true;
}

/// A key prepared once and then looked up in several tables: its bytes, its hash, and its first
/// (up to) 8 bytes packed into one integer, zero-padded.
struct StringKey {
  std::string_view bytes;
  uint64_t hash;
  uint64_t word = 0;
  explicit StringKey(std::string_view s) : bytes(s), hash(hash_bytes(s)) {
    if (!s.empty()) std::memcpy(&word, s.data(), s.size() < 8 ? s.size() : 8);
  }
};

/// Maps byte strings to short lists of token ids (a pre-token to its BPE result, or a token's
/// bytes to its one id).
///
/// The table is an array of 16-byte slots. Most pre-tokens are at most 8 bytes long and most
/// results are one id, and then the slot holds the key's bytes and the id themselves, so a lookup
/// touches one cache line. Longer keys live in a key arena (the slot keeps 32 bits of the hash
/// and the offset), longer results in a value arena.
class StringToIds {
 public:
  explicit StringToIds(size_t expected = 0) { rehash(capacity_for(expected)); }

  /// The ids stored for `key`, or an empty span when absent (values are never empty). The span is
  /// valid until the next insert().
  std::span<const int> find(const StringKey& key) const {
    const size_t n = key.bytes.size();
    const uint32_t tag = static_cast<uint32_t>(key.hash >> 32);
    for (size_t i = key.hash & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key_len == kEmpty) return {};
      if (s.key_len != n) continue;
      const bool same =
          n <= 8 ? s.key8 == key.word
                 : static_cast<uint32_t>(s.key8 >> 32) == tag &&
                       bytes_equal(keys_.data() + static_cast<uint32_t>(s.key8), key.bytes.data(), n);
      if (same)
        return s.value_len == 1 ? std::span<const int>(&s.value, 1)
                                : std::span<const int>(values_.data() + s.value, s.value_len);
    }
  }
  std::span<const int> find(std::string_view key) const { return find(StringKey(key)); }

  /// Asks the CPU to start loading the slot where `key`'s search begins, so that a find() soon
  /// after does not wait for memory. Only a hint: it changes nothing.
  void prefetch(const StringKey& key) const { __builtin_prefetch(&slots_[key.hash & mask_]); }

  /// Adds key -> ids (the key must be absent, and 1 <= ids.size() <= kMaxLength).
  void insert(const StringKey& key, std::span<const int> ids) {
    if (2 * (size_ + 1) > slots_.size()) rehash(slots_.size() * 2);
    Slot s;
    s.key_len = static_cast<uint16_t>(key.bytes.size());
    if (key.bytes.size() <= 8) {
      s.key8 = key.word;
    } else {
      s.key8 = (key.hash & 0xFFFFFFFF00000000ull) | static_cast<uint32_t>(keys_.size());
      keys_.append(key.bytes);
    }
    s.value_len = static_cast<uint16_t>(ids.size());
    if (ids.size() == 1) {
      s.value = ids[0];
    } else {
      s.value = static_cast<int>(values_.size());
      values_.insert(values_.end(), ids.begin(), ids.end());
    }
    place(s, key.hash);
    ++size_;
  }
  void insert(std::string_view key, std::span<const int> ids) { insert(StringKey(key), ids); }

  size_t size() const { return size_; }

  /// Keys and values longer than this are not stored (callers check; a longer key is never found).
  static constexpr size_t kMaxLength = 0xFFFE;

 private:
  static constexpr uint16_t kEmpty = 0xFFFF;
  struct Slot {
    uint64_t key8 = 0;  // key <= 8 bytes: its bytes; longer: hash tag (high 32 bits) | offset in keys_
    int value = 0;      // one id: the id; more: offset in values_
    uint16_t key_len = kEmpty, value_len = 0;
  };
  static size_t capacity_for(size_t n) {
    size_t c = 16;
    while (c < 2 * n) c *= 2;
    return c;
  }
  void place(const Slot& s, uint64_t hash) {
    size_t i = hash & mask_;
    while (slots_[i].key_len != kEmpty) i = (i + 1) & mask_;
    slots_[i] = s;
  }
  // The key of an occupied slot, to recompute its hash when the table grows.
  std::string_view key_of(const Slot& s) const {
    if (s.key_len <= 8) return std::string_view(reinterpret_cast<const char*>(&s.key8), s.key_len);
    return std::string_view(keys_).substr(static_cast<uint32_t>(s.key8), s.key_len);
  }
  void rehash(size_t capacity) {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(capacity, Slot{});
    mask_ = capacity - 1;
    for (const Slot& s : old)
      if (s.key_len != kEmpty) place(s, hash_bytes(key_of(s)));
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0, size_ = 0;
  std::string keys_;
  std::vector<int> values_;
};

/// Maps a pair of token ids (left, right) to the merge that joins them: its rank (0 = learned
/// first = applied first) and the id of the merged token.
class MergeTable {
 public:
  struct Merge {
    int rank = -1;  ///< -1: this pair never merges
    int id = -1;
  };

  explicit MergeTable(size_t expected = 0) {
    size_t c = 16;
    while (c < 2 * expected) c *= 2;
    slots_.assign(c, Slot{});
    mask_ = c - 1;
  }

  /// The merge of (left, right), or rank -1 when there is none.
  Merge find(int left, int right) const {
    const uint64_t key = pack(left, right);
    for (size_t i = mix(key) & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key == key) return s.merge;
      if (s.key == kEmpty) return {};
    }
  }

  /// Adds a merge (the table is sized once, for `expected` entries, at construction).
  void insert(int left, int right, Merge m) {
    const uint64_t key = pack(left, right);
    size_t i = mix(key) & mask_;
    while (slots_[i].key != kEmpty && slots_[i].key != key) i = (i + 1) & mask_;
    slots_[i] = {key, m};
  }

 private:
  static constexpr uint64_t kEmpty = ~0ull;
  struct Slot {
    uint64_t key = kEmpty;
    Merge merge;
  };
  static uint64_t pack(int a, int b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  static uint64_t mix(uint64_t x) {
    x ^= x >> 31;
    x *= 0x9E3779B97F4A7C15ull;
    return x ^ (x >> 29);
  }
  std::vector<Slot> slots_;
  size_t mask_ = 0;
};

}  // namespace gpt2
