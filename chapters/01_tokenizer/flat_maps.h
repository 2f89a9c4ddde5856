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

/// Maps byte strings to short lists of token ids (a pre-token to its BPE result, or a token's
/// bytes to its one id). Keys and values live in two arenas; a slot stores offsets into them.
class StringToIds {
 public:
  explicit StringToIds(size_t expected = 0) { rehash(capacity_for(expected)); }

  /// The ids stored for `key`, or an empty span when absent (values are never empty).
  std::span<const int> find(std::string_view key) const {
    const uint64_t h = hash_bytes(key);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key_len == kEmpty) return {};
      if (s.hash == h && s.key_len == key.size() &&
          std::memcmp(keys_.data() + s.key_off, key.data(), key.size()) == 0)
        return {values_.data() + s.value_off, s.value_len};
    }
  }

  /// Adds key -> ids (the key must be absent, ids non-empty).
  void insert(std::string_view key, std::span<const int> ids) {
    if (2 * (size_ + 1) > slots_.size()) rehash(slots_.size() * 2);
    Slot s{hash_bytes(key), static_cast<uint32_t>(keys_.size()), static_cast<uint32_t>(key.size()),
           static_cast<uint32_t>(values_.size()), static_cast<uint32_t>(ids.size())};
    keys_.append(key);
    values_.insert(values_.end(), ids.begin(), ids.end());
    place(s);
    ++size_;
  }

  size_t size() const { return size_; }

 private:
  static constexpr uint32_t kEmpty = 0xFFFFFFFF;
  struct Slot {
    uint64_t hash = 0;
    uint32_t key_off = 0, key_len = kEmpty, value_off = 0, value_len = 0;
  };
  static size_t capacity_for(size_t n) {
    size_t c = 16;
    while (c < 2 * n) c *= 2;
    return c;
  }
  void place(const Slot& s) {
    size_t i = s.hash & mask_;
    while (slots_[i].key_len != kEmpty) i = (i + 1) & mask_;
    slots_[i] = s;
  }
  void rehash(size_t capacity) {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(capacity, Slot{});
    mask_ = capacity - 1;
    for (const Slot& s : old)
      if (s.key_len != kEmpty) place(s);
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
