// Exercises 07 (solution). Chapter 07 computes the same in sampler.cpp (keep_top_k, keep_top_p),
// utf8_stream.cpp and kv_cache.cpp.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "exercise.h"

namespace exercise {

namespace {

// Token ids sorted by probability, largest first; on ties the lower id first, so that the answer
// does not depend on the sort algorithm.
std::vector<int> ids_by_probability(const std::vector<float>& probs) {
  std::vector<int> ids(probs.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::sort(ids.begin(), ids.end(),
            [&](int a, int b) { return probs[a] > probs[b] || (probs[a] == probs[b] && a < b); });
  return ids;
}

// probs restricted to the first `keep` ids of `order`, divided by their sum.
std::vector<float> keep_first(const std::vector<float>& probs, const std::vector<int>& order, size_t keep) {
  double kept_mass = 0;
  for (size_t r = 0; r < keep; ++r) kept_mass += probs[order[r]];
  std::vector<float> out(probs.size(), 0.0f);
  for (size_t r = 0; r < keep; ++r) out[order[r]] = static_cast<float>(probs[order[r]] / kept_mass);
  return out;
}

}  // namespace

std::vector<float> top_k_filter(const std::vector<float>& probs, int k) {
  if (k <= 0 || static_cast<size_t>(k) >= probs.size()) return probs;
  return keep_first(probs, ids_by_probability(probs), static_cast<size_t>(k));
}

std::vector<float> top_p_filter(const std::vector<float>& probs, float p) {
  if (p >= 1.0f) return probs;
  const std::vector<int> order = ids_by_probability(probs);
  // Keep tokens until the mass reaches p; the token that crosses p is kept, so at least one is.
  double mass = 0;
  size_t keep = 0;
  while (keep < order.size()) {
    mass += probs[order[keep]];
    ++keep;
    if (mass >= p) break;
  }
  return keep_first(probs, order, keep);
}

size_t utf8_complete_prefix(std::string_view bytes) {
  const size_t n = bytes.size();
  // Walk back over at most three continuation bytes (10xxxxxx) to the byte that starts the last
  // character.
  size_t start = n;
  int continuation = 0;
  while (start > 0 && continuation < 3 && (static_cast<unsigned char>(bytes[start - 1]) & 0xC0) == 0x80) {
    --start;
    ++continuation;
  }
  if (start == 0) return n;  // only continuation bytes: nothing to wait for
  const unsigned char lead = static_cast<unsigned char>(bytes[start - 1]);
  int length = 1;  // what the lead byte announces
  if ((lead & 0xE0) == 0xC0)
    length = 2;
  else if ((lead & 0xF0) == 0xE0)
    length = 3;
  else if ((lead & 0xF8) == 0xF0)
    length = 4;
  const int present = 1 + continuation;
  return present < length ? start - 1 : n;  // hold back an incomplete last character
}

void attention_decode_step(float* out, const LayerKVCache& cache, const float* qkv, int pos) {
  const int NH = cache.NH, HS = cache.HS, C = NH * HS;
  const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
  std::vector<float> weights(static_cast<size_t>(pos) + 1);
  for (int h = 0; h < NH; ++h) {
    const float* q = qkv + h * HS;
    float* k_rows = cache.k + static_cast<size_t>(h) * cache.maxT * HS;  // this head's (maxT, HS) keys
    float* v_rows = cache.v + static_cast<size_t>(h) * cache.maxT * HS;
    // 1. Append: the new token's key and value become row pos of the head's cache.
    for (int i = 0; i < HS; ++i) {
      k_rows[static_cast<size_t>(pos) * HS + i] = qkv[C + h * HS + i];
      v_rows[static_cast<size_t>(pos) * HS + i] = qkv[2 * C + h * HS + i];
    }
    // 2. Scores against rows 0 .. pos (the causal mask is "read no further"), stable softmax.
    float max_score = -INFINITY;
    for (int s = 0; s <= pos; ++s) {
      float dot = 0.0f;
      for (int i = 0; i < HS; ++i) dot += q[i] * k_rows[static_cast<size_t>(s) * HS + i];
      weights[s] = dot * scale;
      max_score = std::max(max_score, weights[s]);
    }
    float sum = 0.0f;
    for (int s = 0; s <= pos; ++s) sum += weights[s] = std::exp(weights[s] - max_score);
    // 3. The weighted sum of the value rows.
    float* y = out + h * HS;
    for (int i = 0; i < HS; ++i) y[i] = 0.0f;
    for (int s = 0; s <= pos; ++s) {
      const float w = weights[s] / sum;
      for (int i = 0; i < HS; ++i) y[i] += w * v_rows[static_cast<size_t>(s) * HS + i];
    }
  }
}

}  // namespace exercise
