/// @file exercises/07_sampling/exercise.h
/// @brief Exercises 07: the top-k and top-p filters, where a UTF-8 stream may be cut, and one
/// decode step of attention with a KV cache.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace exercise {

/// 07.1: keeps the k largest probabilities of `probs` (ties: the lower index wins), sets the others
/// to 0 and rescales the kept ones to sum to 1. k <= 0 or k >= probs.size() returns probs as it is.
/// Example: probs (0.1, 0.4, 0.2, 0.3), k = 2 -> (0, 0.4/0.7, 0, 0.3/0.7).
std::vector<float> top_k_filter(const std::vector<float>& probs, int k);

/// 07.2: keeps the smallest set of most probable tokens whose probabilities add up to at least p
/// (the token that crosses p is kept; at least one token always is), sets the others to 0 and
/// rescales the kept ones to sum to 1. p >= 1 returns probs as it is; probs sums to 1.
/// Example: probs (0.1, 0.4, 0.2, 0.3), p = 0.6 -> 0.4 + 0.3 = 0.7 >= 0.6 -> (0, 0.4/0.7, 0, 0.3/0.7).
std::vector<float> top_p_filter(const std::vector<float>& probs, float p);

/// 07.3: the length of the longest prefix of `bytes` that does not end inside an incomplete UTF-8
/// character (what a streaming printer may print now). Invalid bytes count as complete.
/// Examples: "ab" -> 2; "ab\xC3" -> 2 (0xC3 starts a two-byte character); "ab\xC3\xA9" -> 4.
size_t utf8_complete_prefix(std::string_view bytes);

/// One layer's KV cache: the keys and the values of every position so far, head by head, so that
/// the keys of one head are a contiguous (maxT, HS) matrix.
struct LayerKVCache {
  float* k = nullptr;  ///< (NH, maxT, HS): key i of head h at position t is k[(h * maxT + t) * HS + i]
  float* v = nullptr;  ///< (NH, maxT, HS): the values, same layout
  int NH = 0;          ///< heads
  int maxT = 0;        ///< positions the cache has room for
  int HS = 0;          ///< head size; C = NH * HS
};

/// 07.4: attention for ONE new token at position `pos` (0 <= pos < maxT), the cache holding the
/// keys and values of positions 0 .. pos-1. qkv (3C) is the token's c_attn output: q | k | v,
/// each C = NH HS channels, head h at channels h HS .. h HS + HS - 1 of each. Stores the token's k
/// and v in the cache at position pos, then writes out (C): for each head h,
///   out_h = sum_{s <= pos} softmax_s(q_h . k_{h,s} / sqrt(HS)) v_{h,s}.
/// Cache rows after pos are not read (they may hold anything).
void attention_decode_step(float* out, const LayerKVCache& cache, const float* qkv, int pos);

}  // namespace exercise
