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

/// Maps byte strings to short lists of token ids (a pre-token to its BPE result, or a token's
/// bytes to its one id). Keys and values live in two arenas; a 16-byte slot stores 32 bits of
/// the key's hash (to skip most wrong keys without touching the arena) and offsets into them.
class StringToIds {
 public:
  explicit StringToIds(size_t expected = 0) { rehash(capacity_for(expected)); }

  /// The ids stored for `key`, or an empty span when absent (values are never empty).
  /// `hash` must be hash_bytes(key) (callers that look a key up in two tables hash it once).
  std::span<const int> find(std::string_view key, uint64_t hash) const {
    const uint32_t tag = static_cast<uint32_t>(hash >> 32);
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key_len == kEmpty) return {};
      if (s.tag == tag && s.key_len == key.size() &&
          bytes_equal(keys_.data() + s.key_off, key.data(), key.size()))
        return {values_.data() + s.value_off, s.value_len};
    }
  }
  std::span<const int> find(std::string_view key) const { return find(key, hash_bytes(key)); }

  /// Adds key -> ids (the key must be absent, ids non-empty, hash == hash_bytes(key)).
  void insert(std::string_view key, uint64_t hash, std::span<const int> ids) {
    if (2 * (size_ + 1) > slots_.size()) rehash(slots_.size() * 2);
    Slot s{static_cast<uint32_t>(hash >> 32), static_cast<uint32_t>(keys_.size()),
           static_cast<uint32_t>(values_.size()), static_cast<uint16_t>(key.size()),
           static_cast<uint16_t>(ids.size())};
    keys_.append(key);
    values_.insert(values_.end(), ids.begin(), ids.end());
    place(s, hash);
    ++size_;
  }
  void insert(std::string_view key, std::span<const int> ids) { insert(key, hash_bytes(key), ids); }

  size_t size() const { return size_; }

  /// Keys and values longer than this are not stored (callers check; a longer key is never found).
  static constexpr size_t kMaxLength = 0xFFFE;

 private:
  static constexpr uint16_t kEmpty = 0xFFFF;
  struct Slot {
    uint32_t tag = 0;  // the high 32 bits of the hash
    uint32_t key_off = 0, value_off = 0;
    uint16_t key_len = kEmpty, value_len = 0;
  };
  // (The full hash is needed again only when the table grows: rehash() recomputes it from the key.)
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
  void rehash(size_t capacity) {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(capacity, Slot{});
    mask_ = capacity - 1;
    for (const Slot& s : old)
      if (s.key_len != kEmpty) place(s, hash_bytes(std::string_view(keys_).substr(s.key_off, s.key_len)));
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
