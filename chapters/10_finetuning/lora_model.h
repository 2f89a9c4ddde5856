/// @file lora_model.h
/// @brief LoRA adapters attached to a GPT-2: trained with it, through its one forward pass.
///
/// lora.h computes LoRA on one layer with plain loops; here the same maths runs inside the model,
/// on its backend, for every adapted layer at once:
///
///  - the factors A (r, C) and B (OC, r) of every adapted layer live in parameters attached to the
///    model (GPT2::attach_parameters), after its own in the same buffer, so what trains is one
///    contiguous range: one AdamW, one gradient norm, one checkpoint tensor;
///  - the model calls this adapter right after each linear layer it adapts (chapter 05's
///    LinearAdapter hook), in the forward pass and in the backward pass. The model's block loop is
///    not written again.
///
/// Each call is made of the backend's own products, so it runs wherever the model runs. With
/// u' = s (x A^T) (N, r) kept from the forward pass for the backward (u' is lora.h's u, scaled):
///
///   forward:   u' = s · x A^T            lm_head_forward(x, A): "logits" over r "tokens", scaled
///              out += u' B^T             lm_head_forward(u', B) into a scratch, then added
///   backward:  dB += g^T u',  du = g B   lm_head_backward(du, dB, g, u', B)
///              du *= s
///              dA += du^T x,  dx += du A lm_head_backward(dx, dA, du, x, A)
///
/// which are lora.h's three gradients. With B = 0 the added term is exactly 0: the adapted model
/// computes the base model's logits bit for bit (the test checks it).
///
/// PyTorch: `peft.get_peft_model(model, LoraConfig(...))` with the base weights frozen.
#pragma once

#include <cstdint>
#include <vector>

#include "chapters/05_gpt2_model/backend.h"
#include "chapters/05_gpt2_model/gpt2.h"
#include "chapters/05_gpt2_model/linear_adapter.h"
#include "chapters/06_training/adamw.h"
#include "chapters/10_finetuning/lora_adapter.h"

namespace gpt2 {

class LoraModel : public LinearAdapter {
 public:
  /// Attaches `adapter`'s layers (without its classification head) to `model`, whose shape must
  /// be the one the adapter was read or created for, and uploads their factors. The model calls
  /// this object from then on (set_linear_adapter); `model` must outlive it.
  LoraModel(GPT2& model, const LoraAdapter& adapter);
  ~LoraModel() override;
  LoraModel(const LoraModel&) = delete;
  LoraModel& operator=(const LoraModel&) = delete;

  bool adapts(int layer, BlockLinear which) const override;
  void forward(int layer, BlockLinear which, float* out, const float* inp, int N, int C, int OC) override;
  void backward(int layer, BlockLinear which, float* dinp, const float* dout, const float* inp, int N, int C,
                int OC) override;

  /// The adapter with its factors as they are now (downloaded from the backend); its head, if the
  /// adapter given had one, is the one given (the caller trains heads, see sequence_classifier.h).
  LoraAdapter to_adapter() const;
  /// The factors' place in the model's attached parameters: [offset, offset + size).
  int64_t offset() const { return offset_; }
  int64_t size() const { return size_; }
  /// Their names and shapes (PEFT's tensor names), offsets counted from offset(): for AdamW.
  std::vector<ParamInfo> param_infos() const;

 private:
  struct Layer {
    LoraTarget target;
    int64_t a = 0, b = 0;  // offsets of A (r, in) and B (out, r) in the attached parameters
    BackendBuffer u;       // (N, r): u' = s x A^T of the last forward pass
    int64_t u_rows = 0;
  };
  Layer* find(int layer, BlockLinear which);
  float* scratch(size_t n);  // (N, OC) for u' B^T, then (N, r) for du

  GPT2& model_;
  Backend& backend_;
  LoraAdapter adapter_;  // the configuration and the head given; the factors live in the model
  std::vector<Layer> layers_;
  std::vector<int> index_;  // layers_ index of (layer, which), -1 if not adapted
  int64_t offset_ = 0, size_ = 0;
  BackendBuffer scratch_;
};

}  // namespace gpt2
