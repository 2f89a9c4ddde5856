// The KV cache and attention for one query against it: see kv_cache.h.
#include "chapters/07_sampling/kv_cache.h"

#include <cmath>

#include "chapters/03_attention/softmax.h"
#include "common/error.h"

namespace gpt2 {

KVCache::KVCache(int n_layer, int n_head, int head_size, int max_T)
    : L_(n_layer), NH_(n_head), HS_(head_size), maxT_(max_T) {
  GPT2_CHECK(n_layer > 0 && n_head > 0 && head_size > 0 && max_T > 0,
             "KVCache: sizes must be > 0, got L=", n_layer, " NH=", n_head, " HS=", head_size,
             " maxT=", max_T);
  const size_t n = static_cast<size_t>(L_) * NH_ * maxT_ * HS_;
  k_.assign(n, 0.0f);
  v_.assign(n, 0.0f);
}

void KVCache::set_size(int n) {
  GPT2_CHECK(n >= 0 && n <= maxT_, "KVCache: ", n, " positions do not fit in a cache of ", maxT_);
  size_ = n;
}

void attention_one_query(float* out, float* scores, const float* q, const float* keys, const float* values,
                         int n, int HS) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
  // scores_s = q . k_s / sqrt(HS) for the n visible keys (all of them: the cache holds only the past)
  for (int s = 0; s < n; ++s) {
    const float* k = keys + static_cast<size_t>(s) * HS;
    float dot = 0;
    for (int i = 0; i < HS; ++i) dot += q[i] * k[i];
    scores[s] = dot * scale;
  }
  softmax_forward(scores, scores, 1, n);
  // out = sum_s P_s v_s
  for (int i = 0; i < HS; ++i) out[i] = 0;
  for (int s = 0; s < n; ++s) {
    const float* v = values + static_cast<size_t>(s) * HS;
    const float p = scores[s];
    for (int i = 0; i < HS; ++i) out[i] += p * v[i];
  }
}

}  // namespace gpt2
