/// @file parameters.h
/// @brief Where every weight of a GPT-2 lives: one contiguous float buffer cut into named views.
///
/// All parameters sit in ONE array, in the order of the Hugging Face checkpoint:
///
///     wte.weight (V, C)  wpe.weight (maxT, C)
///     for each layer i < L:
///       h.i.ln_1.weight (C)          h.i.ln_1.bias (C)
///       h.i.attn.c_attn.weight (C, 3C)  h.i.attn.c_attn.bias (3C)
///       h.i.attn.c_proj.weight (C, C)   h.i.attn.c_proj.bias (C)
///       h.i.ln_2.weight (C)          h.i.ln_2.bias (C)
///       h.i.mlp.c_fc.weight (C, 4C)     h.i.mlp.c_fc.bias (4C)
///       h.i.mlp.c_proj.weight (4C, C)   h.i.mlp.c_proj.bias (C)
///     ln_f.weight (C)  ln_f.bias (C)
///
/// The gradients live in a second array with the same layout, so the optimizer, zeroing,
/// gradient clipping (and, one day, an all-reduce) are single loops over one array, and
/// `grads[k]` is always the gradient of `params[k]`.
///
/// Counting (the README derives it): V C + maxT C + L (12 C^2 + 13 C) + 2 C, which is
/// 124,439,808 for GPT-2 124M.
///
/// PyTorch equivalent: `dict(model.named_parameters())` of `transformers.GPT2Model`, but flat.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "chapters/04_transformer_block/block.h"
#include "chapters/05_gpt2_model/config.h"
#include "common/tensor.h"

namespace gpt2 {

/// One named tensor of the layout.
struct ParamSpec {
  std::string name;    ///< Hugging Face name without prefix, e.g. "h.3.mlp.c_fc.weight"
  Shape shape;         ///< e.g. [C, 4C]
  int64_t offset = 0;  ///< first element, in floats from the start of the buffer
  int64_t numel = 0;   ///< number of floats
  /// Matrices (2-D: embeddings and projections) get weight decay in AdamW; biases and LayerNorm
  /// gains and shifts (1-D) do not.
  bool is_matrix() const { return shape.size() == 2; }
};

/// Pointers to every weight of the model (or to every gradient: same layout, other buffer).
/// F is `float` (writable: weights being trained, gradients) or `const float`. The blocks use
/// chapter 04's BlockParams, whose fields are in the same order as the buffer.
template <typename F>
struct ModelParams {
  F* wte;  ///< (V, C)    token embedding, also the language-model head (tied)
  F* wpe;  ///< (maxT, C) position embedding
  std::vector<BlockParams<F>>
      blocks;  ///< L blocks: ln_1, attn.c_attn, attn.c_proj, ln_2, mlp.c_fc, mlp.c_proj
  F* lnf_w;    ///< (C) ln_f.weight
  F* lnf_b;    ///< (C) ln_f.bias
};

/// The layout of the parameter buffer for one configuration.
class ParameterLayout {
 public:
  explicit ParameterLayout(const GPT2Config& config);

  const GPT2Config& config() const { return config_; }
  /// Every tensor, in buffer (and checkpoint) order.
  const std::vector<ParamSpec>& specs() const { return specs_; }
  /// Total number of floats.
  int64_t num_parameters() const { return total_; }
  /// The spec named `name` (without prefix); throws gpt2::Error if there is none.
  const ParamSpec& find(std::string_view name) const;

  /// Pointers into a buffer of num_parameters() floats laid out like this.
  ModelParams<float> bind(float* base) const;
  ModelParams<const float> bind(const float* base) const;
  /// A view of one tensor of `buffer` (a 1-D Tensor of num_parameters() floats).
  Tensor view(const Tensor& buffer, std::string_view name) const;

 private:
  GPT2Config config_;
  std::vector<ParamSpec> specs_;
  int64_t total_ = 0;
};

/// The closed form V C + maxT C + L (12 C^2 + 13 C) + 2 C (see the chapter README).
int64_t count_parameters(const GPT2Config& config);

}  // namespace gpt2
