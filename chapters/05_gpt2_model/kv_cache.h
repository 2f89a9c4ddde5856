/// @file kv_cache.h
/// @brief The KV cache: the keys and values of every position seen so far, in every layer, kept
/// in the backend's memory so that generating a token runs only that token through the model.
///
/// Chapter 07 teaches it; it lives here, next to the model, because GPT2::forward takes one (the
/// same block loop runs the prompt and each new token, see gpt2.h).
///
/// Why it works. In a causal transformer, position t's output depends only on positions <= t. So
/// when we append token t + 1, nothing computed for positions 0..t changes: their keys and values
/// in every layer are the same as last step. Only the new position needs computing, and its
/// attention needs the keys and values of all earlier positions, which we kept:
///
///   q, k_new, v_new = c_attn(ln_1(x_new))            one row instead of t + 2
///   K = [K_cache; k_new],  V = [V_cache; v_new]      append, per layer and head
///   y = softmax(q K^T / sqrt(HS)) V                  one row of attention over t + 2 keys
///
/// Layout: per layer, keys and values of shape (B, NH, maxT, HS) each, so the keys of one
/// (sequence, head) are a contiguous (maxT, HS) matrix whose first size() rows are filled, which
/// is what the attention reads. Memory: 2 L B maxT C floats, for GPT-2 124M, one sequence and its
/// 1024-token context 2 * 12 * 1024 * 768 * 4 bytes = 75 MB (kv_cache_bytes()).
///
/// Hugging Face equivalent: `past_key_values` (a tuple per layer of (B, NH, T, HS) key and value
/// tensors); llama2.c: `key_cache` / `value_cache` of shape (layer, seq_len, dim).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "chapters/03_attention/softmax.h"
#include "chapters/05_gpt2_model/backend.h"
#include "chapters/05_gpt2_model/config.h"

namespace gpt2 {

class GPT2;

/// Keys and values of positions 0 .. size() - 1 of B sequences, for every layer of a model.
/// @code
///   gpt2::KVCache cache(model.config(), model.backend());     // one sequence, the whole context
///   auto logits = model.forward(cache, prompt.data(), 1, n);   // prefill: positions 0 .. n - 1
///   logits = model.forward(cache, &next, 1, 1);                // one new token at position n
///   cache.truncate(k);                                         // forget positions k .. (a new turn)
/// @endcode
/// The cached keys and values belong to the weights they were computed with: clear() after a
/// training step.
class KVCache {
 public:
  /// Room for `capacity` positions of `batch` sequences of a model of `config`, allocated (zeroed)
  /// by `backend`, which must be the model's and outlive the cache. capacity <= 0 or more than
  /// n_positions means n_positions (the position embedding has no rows beyond it).
  KVCache(const GPT2Config& config, Backend& backend, int batch = 1, int capacity = 0);

  int n_layer() const { return L_; }
  int n_head() const { return NH_; }
  int head_size() const { return HS_; }
  /// B, the sequences the cache holds (every forward on it runs B sequences).
  int batch() const { return B_; }
  /// The most positions the cache can hold (maxT).
  int capacity() const { return maxT_; }
  /// Positions stored: the next forward() on the cache starts at position size().
  int size() const { return size_; }
  /// Keeps positions 0 .. n - 1 and forgets the rest (0 <= n <= size()): a chat can take back a
  /// turn, a generation can start again after a shared prefix. The memory is kept.
  void truncate(int n);
  /// Forgets every position: truncate(0).
  void clear() { truncate(0); }

  /// Layer l's keys, (B, NH, maxT, HS) in the backend's memory.
  float* keys(int l) { return buffer_.floats() + offset(l, 0); }
  /// Layer l's values, (B, NH, maxT, HS) in the backend's memory.
  float* values(int l) { return buffer_.floats() + offset(l, 1); }
  const float* keys(int l) const { return buffer_.floats() + offset(l, 0); }
  const float* values(int l) const { return buffer_.floats() + offset(l, 1); }

  /// Bytes held (keys and values of every layer).
  size_t bytes() const { return buffer_.bytes(); }
  /// The backend whose memory holds the cache.
  Backend& backend() const { return *backend_; }

 private:
  friend class GPT2;  // advances size() after a forward pass has written the new positions
  size_t layer_floats() const { return static_cast<size_t>(B_) * NH_ * maxT_ * HS_; }
  size_t offset(int l, int which) const { return (static_cast<size_t>(l) * 2 + which) * layer_floats(); }

  int L_, NH_, HS_, B_, maxT_;
  int size_ = 0;
  Backend* backend_;
  BackendBuffer buffer_;  // [L][keys, values][B][NH][maxT][HS]
};

/// Bytes of a KVCache for `batch` sequences of `capacity` positions: 2 L B capacity C floats.
int64_t kv_cache_bytes(const GPT2Config& config, int batch, int capacity);

/// The plain attention over a KV cache (Backend::attention_forward_cached, CpuBackend's version):
/// append the new keys and values, then for each new position chapter 03's three steps over the
/// rows it may see, in the same order of operations as chapter 03's attention_forward, so it
/// gives the same bits as the attention over the whole sequence:
///
///   1) S[s] = q . k_s / sqrt(HS)                 s = 0 .. pos0 + t
///   2) P = softmax(S)                             every row read is visible: no mask needed
///   3) out = sum_s P[s] v_s
///
/// qkv (B, T, 3C) holds the new positions' q | k | v; k_cache and v_cache are (B, NH, maxT, HS);
/// out is (B, T, C). PyTorch: `F.scaled_dot_product_attention(q, K[:, :, :pos0 + T],
/// V[:, :, :pos0 + T], attn_mask=...)` with the mask "key s visible from query pos0 + t if s <=
/// pos0 + t".
template <typename F>
void attention_forward_cached(F* out, F* k_cache, F* v_cache, const F* qkv, int B, int T, int pos0, int maxT,
                              int C, int NH) {
  const int HS = C / NH;
  // Append: head h's key of position pos0 + t is channels C + h HS .. of row t of qkv (the split
  // of chapter 04's multihead_attention.h), stored as row pos0 + t of that head's (maxT, HS) keys.
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) {
      const F* row = qkv + (static_cast<size_t>(b) * T + t) * 3 * C;
      for (int h = 0; h < NH; ++h) {
        const size_t at = ((static_cast<size_t>(b) * NH + h) * maxT + pos0 + t) * HS;
        for (int i = 0; i < HS; ++i) {
          k_cache[at + i] = row[C + h * HS + i];
          v_cache[at + i] = row[2 * C + h * HS + i];
        }
      }
    }
  // Attend: the query of position pos0 + t reads rows 0 .. pos0 + t of its head's cache.
  const F scale = F(1) / std::sqrt(static_cast<F>(HS));
  std::vector<F> p(static_cast<size_t>(pos0) + T);  // one row of scores, then of weights
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t)
      for (int h = 0; h < NH; ++h) {
        const F* q = qkv + (static_cast<size_t>(b) * T + t) * 3 * C + h * HS;
        const F* K = k_cache + (static_cast<size_t>(b) * NH + h) * maxT * HS;
        const F* V = v_cache + (static_cast<size_t>(b) * NH + h) * maxT * HS;
        const int n = pos0 + t + 1;
        for (int s = 0; s < n; ++s) {  // 1) the scores
          const F* ks = K + static_cast<size_t>(s) * HS;
          F dot = 0;
          for (int i = 0; i < HS; ++i) dot += q[i] * ks[i];
          p[static_cast<size_t>(s)] = dot * scale;
        }
        softmax_forward(p.data(), p.data(), 1, n);  // 2) the weights
        F* o = out + (static_cast<size_t>(b) * T + t) * C + h * HS;
        for (int i = 0; i < HS; ++i) o[i] = 0;
        for (int s = 0; s < n; ++s) {  // 3) the weighted sum of the values
          const F* vs = V + static_cast<size_t>(s) * HS;
          const F w = p[static_cast<size_t>(s)];
          for (int i = 0; i < HS; ++i) o[i] += w * vs[i];
        }
      }
}

}  // namespace gpt2
