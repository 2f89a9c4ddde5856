/// @file adamw.h
/// @brief AdamW over one flat parameter buffer, exactly as torch.optim.AdamW computes it.
///
/// The model keeps all its parameters in one contiguous buffer `params` (n floats) and their
/// gradients in a buffer `grads` of the same layout (chapter 05). AdamW keeps two more buffers of
/// that layout, the moments `m` and `v`, and updates every element independently. With step
/// t = 1, 2, ... (counted after the increment), learning rate lr, weight decay wd:
///
///   p ← p · (1 − lr · wd)                      decoupled weight decay (Loshchilov & Hutter)
///   m ← β1 · m + (1 − β1) · g                  first moment (mean of g)
///   v ← β2 · v + (1 − β2) · g²                 second moment (mean of g²)
///   m̂ = m / (1 − β1^t),  v̂ = v / (1 − β2^t)     bias correction (m, v start at 0)
///   p ← p − lr · m̂ / (√v̂ + ε)
///
/// Weight decay is applied to matrices only (every parameter tensor with two or more dimensions:
/// the embeddings and the projection weights), not to biases or LayerNorm gains, as GPT-2 /
/// nanoGPT / llm.c do. Which elements decay is given as a list of ranges built from the model's
/// named views (decay_ranges()).
///
/// PyTorch: torch.optim.AdamW(groups, lr, betas=(β1, β2), eps=ε, weight_decay=wd) with one group
/// of the ≥2-D parameters (weight_decay=wd) and one of the others (weight_decay=0).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "chapters/05_gpt2_model/backend.h"
#include "common/tensor.h"

namespace gpt2 {

/// One AdamW step over n contiguous parameters (all with the same weight decay). `step` is the
/// 1-based step number t used for the bias corrections. Updates param, m and v in place; the
/// order of operations follows torch.optim.AdamW's single-tensor implementation.
void adamw_update(float* param, const float* grad, float* m, float* v, size_t n, int64_t step, float lr,
                  float beta1, float beta2, float eps, float weight_decay);

/// The hyper-parameters of AdamW other than the learning rate (which the schedule sets per step).
struct AdamWConfig {
  float beta1 = 0.9f;         ///< decay of the first moment
  float beta2 = 0.95f;        ///< decay of the second moment (GPT-3 / nanoGPT use 0.95)
  float eps = 1e-8f;          ///< added to √v̂ so the division is safe
  float weight_decay = 0.1f;  ///< decoupled weight decay, for the matrices only
};

/// A contiguous range of the parameter buffer and whether weight decay applies to it.
struct ParamRange {
  size_t offset = 0;  ///< first element, in floats from the start of the buffer
  size_t size = 0;    ///< number of elements
  bool decay = true;  ///< apply weight decay (true for matrices)
};

/// A named parameter tensor of a model: where it lives in the flat buffer and its shape.
struct ParamInfo {
  std::string name;   ///< e.g. "h.0.attn.c_attn.weight"
  size_t offset = 0;  ///< first element in the flat buffer
  Shape shape;        ///< e.g. [C, 3C]
};

/// The ranges AdamW needs from a model's parameter list: decay for tensors with dim >= 2, none for
/// the rest (biases, LayerNorm weights). Neighbouring ranges with the same flag are merged.
std::vector<ParamRange> decay_ranges(const std::vector<ParamInfo>& params);

/// AdamW's state in host memory: what a checkpoint's optimizer.safetensors holds.
struct AdamWState {
  std::vector<float> m, v;  ///< the moments, n floats each
  int64_t step = 0;         ///< updates done so far
};

/// Writes m, v (F32 tensors "adamw.m", "adamw.v" of shape [n]) and the step count (I64 tensor
/// "adamw.step" and metadata) to a safetensors file, atomically.
void write_adamw_state(const std::filesystem::path& path, const AdamWState& state);
/// Reads what write_adamw_state wrote for n parameters; throws gpt2::Error naming the file if n or
/// a tensor does not match.
AdamWState read_adamw_state(const std::filesystem::path& path, size_t n);

/// AdamW with its state (the moments m, v and the step count) for a flat buffer of n parameters.
/// The moments live on the model's backend, next to the parameters and gradients: a step runs
/// there (training_ops.h) and copies nothing to the host; save() and load() are the only copies.
class AdamW {
 public:
  /// Moments for n parameters, zeroed, in `backend`'s memory (the backend must outlive this).
  /// `ranges` must cover [0, n) exactly once, in order (throws gpt2::Error otherwise).
  AdamW(Backend& backend, size_t n, std::vector<ParamRange> ranges, AdamWConfig config);

  /// One update of params with grads (both n floats in the backend's memory) at learning rate
  /// lr; increments step().
  void step(std::span<float> params, std::span<const float> grads, float lr);

  /// Number of updates done so far (0 before the first).
  int64_t step_count() const { return step_; }
  const AdamWConfig& config() const { return config_; }
  const std::vector<ParamRange>& ranges() const { return ranges_; }
  /// The number of parameters n.
  size_t size() const { return n_; }
  /// Host copies of the moments (n floats each).
  std::vector<float> m() const;
  std::vector<float> v() const;

  /// A host copy of the whole state, and its replacement (m and v of n floats each, uploaded).
  AdamWState state() const;
  void set_state(const AdamWState& state);

  /// write_adamw_state of state(), and set_state of read_adamw_state.
  void save(const std::filesystem::path& path) const;
  void load(const std::filesystem::path& path);

 private:
  Backend* backend_;
  AdamWConfig config_;
  std::vector<ParamRange> ranges_;
  size_t n_;
  BackendBuffer m_, v_;  // n floats each, in the backend's memory
  int64_t step_ = 0;
};

}  // namespace gpt2
