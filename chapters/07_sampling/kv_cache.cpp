// The KV cache and attention for one query against it: see kv_cache.h.
#include "chapters/07_sampling/kv_cache.h"

#include <cmath>

#include "chapters/03_attention/softmax.h"
#include "chapters/07_sampling/matvec.h"
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
  // The three steps of chapter 03's attention for one query row. The two products are
  // matrix-vector products over the cache, so matvec.h's kernels do them (inside the caller's
  // parallel loop over heads they run on the calling thread).
  // 1) scores_s = k_s . q / sqrt(HS): keys (n, HS) row by row, like the tied head.
  matvec_rows(scores, keys, q, n, HS);
  const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
  for (int s = 0; s < n; ++s) scores[s] *= scale;
  // 2) P = softmax(scores): every key is visible, the cache holds only the past.
  softmax_forward(scores, scores, 1, n);
  // 3) out (HS) = P (n) @ values (n, HS): the Conv1D form, y = x @ W.
  matvec_conv1d(out, scores, values, nullptr, n, HS);
}

}  // namespace gpt2
