/// @file kv_cache.h
/// @brief The KV cache: the keys and values of every position seen so far, per layer and head, so
/// that generating a token feeds only that token through the model.
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
/// Cost per new token. Without the cache, step t recomputes all t positions: the matrix products
/// cost about 2 P t flops (P parameters) and the attention 2 L t^2 C, so one token costs more the
/// longer the text is, and a whole generation is quadratic (cubic with attention). With the cache
/// each step costs 2 P flops for the products (every weight is read once: the step is bound by
/// memory bandwidth) plus 4 L t C for attention over the cache, which for GPT-2 124M stays small
/// next to 2 P until t is in the thousands.
///
/// Memory: 2 L NH maxT HS = 2 L maxT C floats: for GPT-2 124M and a 1024-token context
/// 2 * 12 * 1024 * 768 * 4 bytes = 75 MB.
///
/// Hugging Face equivalent: `past_key_values` (a tuple per layer of (B, NH, T, HS) key and value
/// tensors); llama2.c: `key_cache` / `value_cache` of shape (layer, seq_len, dim).
#pragma once

#include <cstddef>
#include <vector>

namespace gpt2 {

/// Keys and values of positions 0 .. size() - 1 of one sequence, layout (L, NH, maxT, HS) each:
/// the keys of one (layer, head) are a contiguous (maxT, HS) matrix, which is what attention reads.
class KVCache {
 public:
  /// Allocates (zeroed) 2 L NH maxT HS floats. maxT is the capacity in positions.
  KVCache(int n_layer, int n_head, int head_size, int max_T);

  int n_layer() const { return L_; }
  int n_head() const { return NH_; }
  int head_size() const { return HS_; }
  /// The most positions the cache can hold (maxT).
  int capacity() const { return maxT_; }
  /// Positions stored: the next token goes to position size().
  int size() const { return size_; }
  /// Forgets every position (the memory is kept).
  void clear() { size_ = 0; }
  /// Marks positions [0, n) as stored (after their keys and values were written). n <= capacity().
  void set_size(int n);

  /// (maxT, HS) keys of layer l, head h; row t is position t.
  float* keys(int l, int h) { return k_.data() + offset(l, h); }
  const float* keys(int l, int h) const { return k_.data() + offset(l, h); }
  /// (maxT, HS) values of layer l, head h.
  float* values(int l, int h) { return v_.data() + offset(l, h); }
  const float* values(int l, int h) const { return v_.data() + offset(l, h); }

  /// Bytes held (both tensors).
  size_t bytes() const { return (k_.size() + v_.size()) * sizeof(float); }

 private:
  size_t offset(int l, int h) const { return (static_cast<size_t>(l) * NH_ + h) * maxT_ * HS_; }

  int L_, NH_, HS_, maxT_;
  int size_ = 0;
  std::vector<float> k_, v_;  // (L, NH, maxT, HS) each
};

/// One row of causal attention against the cache, for one head:
/// out (HS) = sum_{s < n} softmax_s(q . k_s / sqrt(HS)) v_s, over the first n rows of keys (n, HS)
/// and values (n, HS). `scores` is scratch for n floats. Chapter 03's three steps for one row: the
/// two products are matrix-vector products (matvec.h), the softmax is chapter 03's softmax_forward.
/// PyTorch: `F.scaled_dot_product_attention(q[None], k[:n], v[:n])` for a single query.
void attention_one_query(float* out, float* scores, const float* q, const float* keys, const float* values,
                         int n, int HS);

}  // namespace gpt2
