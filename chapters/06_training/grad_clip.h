/// @file grad_clip.h
/// @brief The global gradient norm and clipping by it.
///
/// All gradients are one flat buffer g (chapter 05), so the "global" norm over every parameter
/// tensor is simply the Euclidean norm of that buffer:
///
///   ‖g‖ = √(Σ_i g_i²),     if ‖g‖ > max_norm:  g ← g · max_norm / (‖g‖ + 10⁻⁶)
///
/// Clipping keeps one unlucky batch (a huge gradient) from throwing the weights far away; the
/// direction of the step is kept, only its length is bounded.
///
/// The sum of squares is accumulated in double, in fixed chunks of kNormChunk elements whose
/// partial sums are added in chunk order. The threads may share out the chunks any way they like;
/// the result is the same bit for bit for any number of threads (a plain OpenMP `reduction(+)`
/// would add in an order that depends on the thread count).
///
/// PyTorch: torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm) (returns the norm
/// before clipping, as clip_grad_norm() here does).
#pragma once

#include <cstddef>

namespace gpt2 {

class TrainingOps;

/// Elements per partial sum in grad_norm().
inline constexpr size_t kNormChunk = 1 << 16;

/// √(Σ g_i²) over n elements, the same for any number of threads.
double grad_norm(const float* grad, size_t n);
/// The partial sums grad_norm adds up: sums[c] = Σ g_i² (in double, index order) over chunk c of
/// kNormChunk elements, for the ⌈n / kNormChunk⌉ chunks; grad_norm is √ of their sum in chunk
/// order.
void sum_squares_chunks(const float* grad, size_t n, double* sums);
/// √ of the partial sums added in chunk order: grad_norm from sum_squares_chunks' output (a
/// faster sum_squares_chunks with the same bits, such as chapter 08's, gives the same norm).
double norm_of_chunk_sums(const double* sums, size_t chunks);

/// Scales grad by max_norm / (‖g‖ + 1e-6) when ‖g‖ > max_norm (max_norm <= 0: never clips).
/// Returns ‖g‖ before clipping.
float clip_grad_norm(float* grad, size_t n, float max_norm);

/// The same on a backend's memory (training_ops.h): the norm from ops.grad_norm, the scaling by
/// ops.scale. Only the norm, one number, reaches the host.
float clip_grad_norm(TrainingOps& ops, float* grad, size_t n, float max_norm);

/// grad *= scale for n elements (e.g. 1 / micro-batches after gradient accumulation).
void scale_grads(float* grad, size_t n, float scale);

/// acc += x for n elements: one micro-batch's gradient added to the sum of the earlier ones.
void add_grads(float* acc, const float* x, size_t n);

}  // namespace gpt2
