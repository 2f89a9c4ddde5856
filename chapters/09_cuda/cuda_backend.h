/// @file cuda_backend.h
/// @brief CudaBackend: chapter 05's Backend (and chapter 06's training operations) on an NVIDIA
/// GPU. The model does not change.
///
/// Every buffer the model computes on is allocated by allocate() in the GPU's memory
/// (host_memory() is false) and stays there: the parameters (uploaded once), the gradients,
/// AdamW's moments, the activations, the KV cache. A training step sends the token ids and reads
/// back the loss and the gradient norm; a decode step sends one token id and reads back its row
/// of logits (transfers() counts the bytes, and a test checks them). Each operation launches the
/// kernels of kernels.h, or a cuBLAS product (cublas_ops.h):
///
/// | Backend call                      | on the GPU                                                  |
/// |-----------------------------------|-------------------------------------------------------------|
/// | encoder_forward / _backward       | encoder.cu (the wte gradient sorted by token, no atomics)   |
/// | layernorm_forward / _backward     | layernorm.cu, one warp per row                              |
/// | linear_*, lm_head_*               | cuBLAS sgemm (+ add_bias / column_sum_add of reduce.cu)     |
/// | attention_forward / _backward     | split_heads, batched sgemm, causal softmax, batched sgemm   |
/// | gelu_*, residual_*                | elementwise.cu                                              |
/// | dropout_*, attention_*_dropout    | dropout.cu (the CPU's masks, recomputed from their key)     |
/// | attention_forward_cached          | attention_cached.cu, one block per (sequence, query, head)  |
/// | cross_entropy_forward / _backward | cross_entropy.cu, one block per row                         |
/// | sum, grad_norm                    | reduce.cu, fixed trees in double: one double comes back     |
/// | scale, adamw_update               | elementwise.cu, adamw.cu (bit-identical to the CPU's AdamW) |
///
/// Every call only queues work on the GPU's default stream and returns; copy_to_host waits for
/// it. The results are deterministic: no kernel uses atomics, and every reduction adds in a fixed
/// order.
///
/// PyTorch equivalent: `model.to("cuda")`.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "chapters/05_gpt2_model/backend.h"
#include "chapters/06_training/training_ops.h"
#include "chapters/09_cuda/cublas_ops.h"

namespace gpt2 {

class CudaBackend : public Backend, public TrainingOps {
 public:
  struct Options {
    bool tf32 = false;  ///< allow TF32 tensor-core matrix products (faster, about 1e-3 relative error)
  };
  /// Selects device 0 and creates the cuBLAS handle. Throws gpt2::Error (naming the CUDA call and
  /// the reason) when there is no usable GPU.
  CudaBackend();
  explicit CudaBackend(Options options);
  ~CudaBackend() override;

  std::string name() const override { return "cuda"; }

  void* allocate(size_t bytes) override;
  void free(void* p) override;
  bool host_memory() const override { return false; }
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

  // ----- chapter 06's training operations -----------------------------------------------------
  double grad_norm(const float* grad, size_t n) override;
  void scale(float* grad, size_t n, float s) override;
  void adamw_update(float* param, const float* grad, float* m, float* v, size_t n, int64_t step, float lr,
                    float beta1, float beta2, float eps, float weight_decay) override;

  // ----- beyond the interfaces -----------------------------------------------------------------
  /// Bytes copied between the host and the GPU, in each direction, since the backend was made or
  /// since reset_transfers(). Every copy the backend makes is counted.
  struct Transfers {
    size_t to_device = 0;
    size_t to_host = 0;
  };
  Transfers transfers() const { return transfers_; }
  void reset_transfers() { transfers_ = {}; }
  /// Waits until the GPU has finished everything queued (for timing; copies already wait).
  void synchronize();
  /// TF32 matrix products on or off (see cublas_ops.h).
  void set_tf32(bool on) { blas_->set_tf32(on); }
  bool tf32() const { return blas_->tf32(); }
  /// The cuBLAS wrapper, for the benchmark and the tests.
  cuda::Blas& blas() { return *blas_; }

 private:
  // Device scratch for what the CPU ops allocate inside (the heads of attention, the partial sums
  // of the reductions): one buffer that only grows, so steady-state training allocates nothing.
  float* scratch_floats(size_t n);
  // The attention and its backward, with dropout on the weights when p > 0.
  void attention_forward_impl(float* out, float* qkvh, float* att, const float* qkv, int B, int T, int C,
                              int NH, float p, uint64_t key);
  void attention_backward_impl(float* dqkv, const float* dout, const float* qkvh, const float* att, int B,
                               int T, int C, int NH, float p, uint64_t key);
  // Makes `buffer` (of `capacity` bytes) at least `bytes` long; returns it.
  static void* grow(void*& buffer, size_t& capacity, size_t bytes);
  int* scratch_ints(size_t n);

  std::unique_ptr<cuda::Blas> blas_;  // created once the device is known to work
  void* scratch_ = nullptr;
  size_t scratch_bytes_ = 0;
  void* scratch_int_ = nullptr;
  size_t scratch_int_bytes_ = 0;
  // One double (sum, grad_norm) and the gradient norm's partial sums, in device memory.
  double* scratch_doubles(size_t n);
  void* scratch_double_ = nullptr;
  size_t scratch_double_bytes_ = 0;
  // A double computed on the GPU, copied back (and counted).
  double read_double(const double* device_value);
  Transfers transfers_;
};

}  // namespace gpt2
