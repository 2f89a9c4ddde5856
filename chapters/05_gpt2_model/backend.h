/// @file backend.h
/// @brief The one interface through which the model computes: memory and every operation.
///
/// The GPT-2 forward and backward passes (gpt2.cpp) are written once, as calls on a Backend.
/// CpuBackend, below, implements each call with the plain loops of chapters 02-05 (and of
/// chapter 07 for the attention over a KV cache); chapter 08 subclasses it with fast CPU kernels
/// and chapter 09 implements it with CUDA kernels, and the model does not change. This is the
/// shape of gemma.cpp's or ggml's backends, cut down to what GPT-2 needs.
///
/// Conventions are those of the ops: raw float pointers into the backend's own memory, `int`
/// sizes, row-major shapes given in the comments, and every `*_backward` ADDS into its gradient
/// outputs (the model zeroes them with `zero`). Token and target ids are `int`.
///
/// Memory: the backend allocates every buffer the model computes on, and the model's numbers
/// stay there: the parameters (uploaded once, when they are loaded or initialised), the
/// gradients and the optimizer's moments (chapter 06), the activations and the KV cache. A
/// training step sends only token ids to the backend and reads back only the loss (and the
/// gradient norm). CpuBackend's memory is ordinary host memory (host_memory() is true, and the
/// copies are memcpy); a device backend returns device pointers, which only its own operations
/// and copy_to_host may touch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gpt2 {

class Backend {
 public:
  virtual ~Backend() = default;

  /// A short name for messages and benchmarks ("cpu", "cpu-fast", "cuda").
  virtual std::string name() const = 0;

  // ----- memory -----------------------------------------------------------------------------
  /// `bytes` bytes of zeroed memory, 64-byte aligned. Throws gpt2::Error when out of memory.
  virtual void* allocate(size_t bytes) = 0;
  /// Frees what allocate returned (nullptr is allowed).
  virtual void free(void* p) = 0;
  /// True if the memory is the host's (pointers into it may be read and written directly).
  virtual bool host_memory() const { return true; }
  /// Copies host memory to backend memory and back.
  virtual void copy_to_device(void* dst, const void* src, size_t bytes) = 0;
  virtual void copy_to_host(void* dst, const void* src, size_t bytes) = 0;
  /// Copies `bytes` bytes from backend memory to backend memory.
  virtual void copy(void* dst, const void* src, size_t bytes) = 0;
  /// Sets n floats to 0.
  virtual void zero(float* p, size_t n) = 0;
  /// The sum of n floats, accumulated in double in an order fixed by n alone, so the same bits
  /// come out on every run and for any number of threads. The model's loss is this sum of the
  /// per-position losses: one number comes back to the host, not B T of them.
  virtual double sum(const float* x, size_t n) = 0;

  // ----- embeddings (chapter 02) --------------------------------------------------------------
  /// out (B, T, C) = wte[tokens] + wpe[0:T]; tokens (B, T).
  virtual void encoder_forward(float* out, const int* tokens, const float* wte, const float* wpe, int B,
                               int T, int C) = 0;
  /// dwte (V, C) and dwpe (maxT, C) += scatter of dout (B, T, C).
  virtual void encoder_backward(float* dwte, float* dwpe, const float* dout, const int* tokens, int B, int T,
                                int C) = 0;

  // ----- LayerNorm (chapter 04) --------------------------------------------------------------
  /// out (N, C), mean (N), rstd (N) from inp (N, C), weight (C), bias (C).
  virtual void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                                 const float* bias, int N, int C, float eps) = 0;
  virtual void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                                  const float* inp, const float* weight, const float* mean, const float* rstd,
                                  int N, int C) = 0;

  // ----- matrix products (chapter 04's Conv1D linear, chapter 05's tied head) -----------------
  /// out (N, OC) = inp (N, C) @ weight (C, OC) + bias (OC); bias may be null.
  virtual void linear_forward(float* out, const float* inp, const float* weight, const float* bias, int N,
                              int C, int OC) = 0;
  /// dinp, dweight, dbias += gradients of linear_forward; any of them may be null.
  virtual void linear_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                               const float* weight, int N, int C, int OC) = 0;
  /// logits (N, V) = inp (N, C) @ wte (V, C)^T.
  virtual void lm_head_forward(float* logits, const float* inp, const float* wte, int N, int C, int V) = 0;
  /// dinp (N, C) and dwte (V, C) += gradients of lm_head_forward.
  virtual void lm_head_backward(float* dinp, float* dwte, const float* dlogits, const float* inp,
                                const float* wte, int N, int C, int V) = 0;

  // ----- causal multi-head attention (chapters 03-04) ----------------------------------------
  /// out (B, T, C) from qkv (B, T, 3C); saves qkvh (3, B, NH, T, HS) and att (B, NH, T, T).
  virtual void attention_forward(float* out, float* qkvh, float* att, const float* qkv, int B, int T, int C,
                                 int NH) = 0;
  /// dqkv (B, T, 3C) += gradient of attention_forward given dout (B, T, C).
  virtual void attention_backward(float* dqkv, const float* dout, const float* qkvh, const float* att, int B,
                                  int T, int C, int NH) = 0;

  // ----- attention over a KV cache (chapter 07) -----------------------------------------------
  /// The attention of T new positions pos0 .. pos0 + T - 1 of each of B sequences, with the keys
  /// and values of the earlier positions kept in a cache (kv_cache.h). First the new keys and
  /// values, the k and v parts of qkv (B, T, 3C), are written into rows pos0 .. pos0 + T - 1 of
  /// k_cache and v_cache, (B, NH, maxT, HS) each; then the query of position pos0 + t attends to
  /// rows 0 .. pos0 + t (causal: every row it reads is its past or itself), giving out (B, T, C),
  /// the heads merged as attention_forward merges them. Nothing is kept for a backward pass.
  /// With pos0 = 0 this is attention_forward's `out` for the same qkv. pos0 + T <= maxT.
  virtual void attention_forward_cached(float* out, float* k_cache, float* v_cache, const float* qkv, int B,
                                        int T, int pos0, int maxT, int C, int NH) = 0;

  // ----- element-wise (chapter 04) -----------------------------------------------------------
  /// out (n) = GELU(inp), tanh form.
  virtual void gelu_forward(float* out, const float* inp, int n) = 0;
  virtual void gelu_backward(float* dinp, const float* inp, const float* dout, int n) = 0;
  /// out (n) = a + b.
  virtual void residual_forward(float* out, const float* a, const float* b, int n) = 0;
  /// da += dout, db += dout.
  virtual void residual_backward(float* da, float* db, const float* dout, int n) = 0;

  // ----- dropout (dropout.h; training mode only) ---------------------------------------------
  /// out (n) = inp (n) with each element kept with probability 1 - p and scaled by 1 / (1 - p),
  /// or set to 0: element i is kept when dropout_keep(key, i, p). out may be inp. 0 < p < 1.
  virtual void dropout_forward(float* out, const float* inp, int n, float p, uint64_t key) = 0;
  /// dinp (n) += the gradient of dropout_forward with the same p and key (the mask is recomputed).
  virtual void dropout_backward(float* dinp, const float* dout, int n, float p, uint64_t key) = 0;
  /// attention_forward with dropout on the attention weights: out = merge(D V) with
  /// D = dropout(P) of probability p, its mask drawn from `key` over the (B, NH, T, T) weights
  /// (element i of att is kept when dropout_keep(key, i, p)); att still holds P.
  virtual void attention_forward_dropout(float* out, float* qkvh, float* att, const float* qkv, int B, int T,
                                         int C, int NH, float p, uint64_t key) = 0;
  /// dqkv += the gradient of attention_forward_dropout with the same p and key.
  virtual void attention_backward_dropout(float* dqkv, const float* dout, const float* qkvh, const float* att,
                                          int B, int T, int C, int NH, float p, uint64_t key) = 0;

  // ----- loss (chapter 05) -------------------------------------------------------------------
  /// losses (N) and lse (N) from logits (N, V) and targets (N), -1 = no target.
  virtual void cross_entropy_forward(float* losses, float* lse, const float* logits, const int* targets,
                                     int N, int V) = 0;
  /// dlogits (N, V) += dloss * (softmax(logits) - onehot(targets)).
  virtual void cross_entropy_backward(float* dlogits, const float* logits, const float* lse,
                                      const int* targets, float dloss, int N, int V) = 0;
};

/// A host copy of n floats of `backend`'s memory (for tests, checkpoints, looking inside).
std::vector<float> to_host(Backend& backend, const float* p, size_t n);

/// Memory from a Backend, freed when this goes out of scope (move-only).
class BackendBuffer {
 public:
  BackendBuffer() = default;
  BackendBuffer(Backend& backend, size_t bytes)
      : backend_(&backend), p_(backend.allocate(bytes)), bytes_(bytes) {}
  ~BackendBuffer() { reset(); }
  BackendBuffer(BackendBuffer&& o) noexcept : backend_(o.backend_), p_(o.p_), bytes_(o.bytes_) {
    o.p_ = nullptr;
  }
  BackendBuffer& operator=(BackendBuffer&& o) noexcept {
    if (this != &o) {
      reset();
      backend_ = o.backend_;
      p_ = o.p_;
      bytes_ = o.bytes_;
      o.p_ = nullptr;
    }
    return *this;
  }
  BackendBuffer(const BackendBuffer&) = delete;
  BackendBuffer& operator=(const BackendBuffer&) = delete;

  float* floats() const { return static_cast<float*>(p_); }
  int* ints() const { return static_cast<int*>(p_); }
  size_t bytes() const { return bytes_; }
  /// Frees the memory now.
  void reset() {
    if (p_) backend_->free(p_);
    p_ = nullptr;
    bytes_ = 0;
  }

 private:
  Backend* backend_ = nullptr;
  void* p_ = nullptr;
  size_t bytes_ = 0;
};

/// The plain loops of the chapters, on host memory: the reference every faster backend is
/// tested against. Chapter 08 derives from it and overrides the operations it speeds up.
class CpuBackend : public Backend {
 public:
  std::string name() const override { return "cpu"; }

  void* allocate(size_t bytes) override;
  void free(void* p) override;
  void copy_to_device(void* dst, const void* src, size_t bytes) override;
  void copy_to_host(void* dst, const void* src, size_t bytes) override;
  void copy(void* dst, const void* src, size_t bytes) override;
  void zero(float* p, size_t n) override;
  double sum(const float* x, size_t n) override;

  void encoder_forward(float* out, const int* tokens, const float* wte, const float* wpe, int B, int T,
                       int C) override;
  void encoder_backward(float* dwte, float* dwpe, const float* dout, const int* tokens, int B, int T,
                        int C) override;
  void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                         const float* bias, int N, int C, float eps) override;
  void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                          const float* weight, const float* mean, const float* rstd, int N, int C) override;
  void linear_forward(float* out, const float* inp, const float* weight, const float* bias, int N, int C,
                      int OC) override;
  void linear_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                       const float* weight, int N, int C, int OC) override;
  void lm_head_forward(float* logits, const float* inp, const float* wte, int N, int C, int V) override;
  void lm_head_backward(float* dinp, float* dwte, const float* dlogits, const float* inp, const float* wte,
                        int N, int C, int V) override;
  void attention_forward(float* out, float* qkvh, float* att, const float* qkv, int B, int T, int C,
                         int NH) override;
  void attention_backward(float* dqkv, const float* dout, const float* qkvh, const float* att, int B, int T,
                          int C, int NH) override;
  void attention_forward_cached(float* out, float* k_cache, float* v_cache, const float* qkv, int B, int T,
                                int pos0, int maxT, int C, int NH) override;
  void gelu_forward(float* out, const float* inp, int n) override;
  void gelu_backward(float* dinp, const float* inp, const float* dout, int n) override;
  void residual_forward(float* out, const float* a, const float* b, int n) override;
  void residual_backward(float* da, float* db, const float* dout, int n) override;
  void dropout_forward(float* out, const float* inp, int n, float p, uint64_t key) override;
  void dropout_backward(float* dinp, const float* dout, int n, float p, uint64_t key) override;
  void attention_forward_dropout(float* out, float* qkvh, float* att, const float* qkv, int B, int T, int C,
                                 int NH, float p, uint64_t key) override;
  void attention_backward_dropout(float* dqkv, const float* dout, const float* qkvh, const float* att, int B,
                                  int T, int C, int NH, float p, uint64_t key) override;
  void cross_entropy_forward(float* losses, float* lse, const float* logits, const int* targets, int N,
                             int V) override;
  void cross_entropy_backward(float* dlogits, const float* logits, const float* lse, const int* targets,
                              float dloss, int N, int V) override;
};

}  // namespace gpt2
