/// @file training_ops.h
/// @brief The operations a training step runs on the model's whole parameter and gradient
/// buffers, where the backend keeps them: the global gradient norm, scaling, the AdamW update.
///
/// The model's numbers live on its backend (chapter 05): a GPU keeps the parameters, the
/// gradients and AdamW's moments in its own memory, and a training step must not copy 124
/// million gradients to the host to clip them. So the three loops of this chapter that touch
/// whole buffers are operations a backend provides:
///
/// | operation      | the plain loop (this chapter) | what it is for                              |
/// |----------------|-------------------------------|---------------------------------------------|
/// | grad_norm      | grad_norm() in grad_clip.h    | clipping; the norm is logged every step     |
/// | scale          | scale_grads() in grad_clip.h  | 1/K after K micro-batches; clipping         |
/// | add            | add_grads() in grad_clip.h    | adding up the K micro-batches' gradients    |
/// | adamw_update   | adamw_update() in adamw.h     | the optimizer step                          |
///
/// plus sum_squares_chunks, the norm's partial sums one by one, for chapter 11's ranks that each
/// hold a part of the gradient. (Zeroing the gradients is chapter 05's Backend::zero, copying
/// them Backend::copy.) A backend that can run these on its
/// own memory implements TrainingOps next to Backend: chapter 08's FastCpuBackend (its AVX2
/// AdamW) and chapter 09's CudaBackend (its kernels). Chapter 05's plain CpuBackend does not know
/// them (chapter 05 comes first); for it, and for any other backend whose memory is the host's,
/// training_ops() hands out PlainTrainingOps, this chapter's loops.
#pragma once

#include <cstddef>
#include <cstdint>

#include "chapters/05_gpt2_model/backend.h"

namespace gpt2 {

/// The whole-buffer operations of a training step, on a backend's memory.
class TrainingOps {
 public:
  virtual ~TrainingOps() = default;
  /// √(Σ g_i²) over n floats, the same bits for any number of threads (grad_clip.h's rule).
  virtual double grad_norm(const float* grad, size_t n) = 0;
  /// grad *= s for n floats.
  virtual void scale(float* grad, size_t n, float s) = 0;
  /// acc += x for n floats (one IEEE addition per element: the same bits on every backend).
  virtual void add(float* acc, const float* x, size_t n) = 0;
  /// The partial sums of grad_norm: sums[c] = Σ g_i² over chunk c, the elements
  /// [c·kNormChunk, (c+1)·kNormChunk) ∩ [0, n), in double, for c < ⌈n / kNormChunk⌉; `sums` is
  /// host memory. Adding them in chunk order gives exactly the square of grad_norm(grad, n), so
  /// ranks that hold different chunks of one gradient can compute its norm together, bit for bit
  /// (chapter 11's ZeRO-1).
  virtual void sum_squares_chunks(const float* grad, size_t n, double* sums) = 0;
  /// One AdamW step over n parameters with the same weight decay: adamw_update (adamw.h).
  virtual void adamw_update(float* param, const float* grad, float* m, float* v, size_t n, int64_t step,
                            float lr, float beta1, float beta2, float eps, float weight_decay) = 0;
};

/// This chapter's loops, on host memory.
class PlainTrainingOps : public TrainingOps {
 public:
  double grad_norm(const float* grad, size_t n) override;
  void scale(float* grad, size_t n, float s) override;
  void add(float* acc, const float* x, size_t n) override;
  void sum_squares_chunks(const float* grad, size_t n, double* sums) override;
  void adamw_update(float* param, const float* grad, float* m, float* v, size_t n, int64_t step, float lr,
                    float beta1, float beta2, float eps, float weight_decay) override;
};

/// The training operations of `backend`: its own when it implements TrainingOps, else
/// PlainTrainingOps when its memory is the host's. A device backend without them is an error.
TrainingOps& training_ops(Backend& backend);

}  // namespace gpt2
