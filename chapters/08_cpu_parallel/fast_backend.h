/// @file fast_backend.h
/// @brief FastCpuBackend: chapter 05's CpuBackend with every heavy operation replaced by this
/// chapter's fast kernels, and the choice between the two.
///
/// The model (chapter 05) computes only through a Backend, so speeding it up is a matter of
/// overriding the operations: the model's code does not change. Each override computes the same
/// function as the CpuBackend method it replaces (tested against it, test_08_cpu_parallel) and
/// gives the same bits whatever the thread count.
///
/// | operation              | fast kernel                          |
/// |------------------------|--------------------------------------|
/// | allocate               | large_pages.h (2 MB pages)           |
/// | linear, lm_head        | gemm() (matmul.h); one row: matvec.h |
/// | attention              | attention_fast.h                     |
/// | attention over a cache | attention_cached_fast.h              |
/// | layernorm              | layernorm_fast.h                     |
/// | gelu                   | gelu_fast.h                          |
/// | cross_entropy          | cross_entropy_fast.h                 |
/// | residual, zero, dropout | parallel loops (memory-bound)       |
/// | AdamW                  | adamw_fast.h                         |
///
/// The embeddings stay plain: they move B * T * C numbers, nothing to gain. So does the attention
/// with dropout on its weights (attention_forward_dropout, training with attn_pdrop > 0 only): it
/// runs chapter 03's loops. The backend also
/// provides chapter 06's training operations (training_ops.h): the AVX2 AdamW, and chapter 06's
/// gradient norm and scaling, which are already parallel and thread-count independent.
#pragma once

#include <memory>
#include <string>

#include "chapters/05_gpt2_model/backend.h"
#include "chapters/06_training/training_ops.h"

namespace gpt2 {

class FastCpuBackend : public CpuBackend, public TrainingOps {
 public:
  std::string name() const override { return "cpu-fast"; }

  void* allocate(size_t bytes) override;
  void free(void* p) override;

  void zero(float* p, size_t n) override;
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
  void cross_entropy_forward(float* losses, float* lse, const float* logits, const int* targets, int N,
                             int V) override;
  void cross_entropy_backward(float* dlogits, const float* logits, const float* lse, const int* targets,
                              float dloss, int N, int V) override;

  // Chapter 06's training operations.
  double grad_norm(const float* grad, size_t n) override;
  void scale(float* grad, size_t n, float s) override;
  void add(float* acc, const float* x, size_t n) override;
  void sum_squares_chunks(const float* grad, size_t n, double* sums) override;
  void adamw_update(float* param, const float* grad, float* m, float* v, size_t n, int64_t step, float lr,
                    float beta1, float beta2, float eps, float weight_decay) override;
};

/// True when the environment variable GPT2_PLAIN_KERNELS is set to something other than "" or
/// "0": the programs then use the plain CpuBackend (for teaching, and to check the fast one).
bool plain_kernels_requested();

/// The CPU backend the programs use: FastCpuBackend by default, CpuBackend when `plain` is true.
std::unique_ptr<Backend> make_cpu_backend(bool plain = plain_kernels_requested());

}  // namespace gpt2
