/// @file linear_adapter.h
/// @brief A hook on the four linear layers of every block, through which a layer attached to the
/// model adds its own term and trains its own parameters: chapter 10's LoRA adapters.
///
/// Each block of GPT-2 has four linear layers (Conv1D, out = inp W + b, chapter 04):
///
///   attn.c_attn (C -> 3C), attn.c_proj (C -> C), mlp.c_fc (C -> 4C), mlp.c_proj (4C -> C)
///
/// A LinearAdapter given to GPT2::set_linear_adapter() is called right after each layer it adapts:
/// in the forward pass to add its term to `out`, in the backward pass (after the layer's own
/// backward has added dout W^T into dinp) to add its share of dinp and its own parameters'
/// gradients. The model's block loop stays the one loop of gpt2.cpp: the adapter is a call at the
/// four places, not a second forward pass. Chapter 05 has no adapter of its own; chapter 10's LoRA
/// (lora_model.h) is one. PyTorch: what PEFT does when it wraps each adapted nn.Module.
#pragma once

namespace gpt2 {

/// The four linear layers of a block, in the order of the forward pass.
enum class BlockLinear { attn_c_attn, attn_c_proj, mlp_c_fc, mlp_c_proj };

class LinearAdapter {
 public:
  virtual ~LinearAdapter() = default;
  /// Whether the adapter adds to layer `which` of block `layer` (the model skips the calls if not).
  virtual bool adapts(int layer, BlockLinear which) const = 0;
  /// out (N, OC) += the adapter's term for inp (N, C); out already holds inp W + b. The pointers
  /// are in the model's backend memory; in training mode inp stays valid until the backward pass.
  virtual void forward(int layer, BlockLinear which, float* out, const float* inp, int N, int C, int OC) = 0;
  /// dinp (N, C) += the adapter's part of dL/dinp, and the adapter's parameter gradients +=
  /// theirs, given dout (N, OC) = dL/dout and the forward's inp (N, C). dinp may be null (nothing
  /// below needs it).
  virtual void backward(int layer, BlockLinear which, float* dinp, const float* dout, const float* inp, int N,
                        int C, int OC) = 0;
};

}  // namespace gpt2
