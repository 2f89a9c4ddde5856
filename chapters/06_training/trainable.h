/// @file trainable.h
/// @brief What the training loop needs from a model: forward with loss, backward, the flat
/// parameter and gradient buffers on their backend with their named views, and save/load.
///
/// Chapter 05's GPT-2 provides all of this (gpt2_trainable.h adapts it); the tests also train a
/// tiny bigram model through the same interface. PyTorch's equivalent is an nn.Module whose
/// forward returns the loss, plus model.parameters() and state_dict().
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <vector>

#include "adamw.h"
#include "chapters/05_gpt2_model/backend.h"
#include "chapters/05_gpt2_model/grads_ready.h"

namespace gpt2 {

/// The model side of the training loop.
class TrainableModel {
 public:
  virtual ~TrainableModel() = default;

  /// Runs the model on inputs (B, T) and returns the mean cross-entropy against targets (B, T);
  /// keeps what backward() needs.
  virtual float forward(const int* inputs, const int* targets, int B, int T) = 0;
  /// Sets every gradient to zero.
  virtual void zero_grad() = 0;
  /// Adds the gradient of the last forward's loss into grads() (backward passes add).
  virtual void backward() = 0;
  /// Asks backward() to call `callback(ready)` whenever more of grads() is final: every gradient
  /// from ready.first_ready to the end, and the embedding table it may name except the input
  /// tokens' rows (chapter 05's grads_ready.h and GPT2::set_grad_ready_callback; chapter 11
  /// overlaps communication with backward through it). A model that cannot tell ignores it, which
  /// is always correct: the gradients are all final once backward() returns.
  virtual void set_grad_ready_callback(std::function<void(const GradsReady&)> callback) { (void)callback; }
  /// The same for the loss multiplied by `weight`: gradient accumulation weighs each micro-batch by
  /// its number of targets (see train_step). The default can only weigh by 1.
  virtual void backward_weighted(float weight);

  /// Training or evaluation (PyTorch's model.train() / model.eval()): dropout acts only while
  /// training. train() switches to evaluation for validation and back. The default ignores it.
  virtual void set_training(bool /*training*/) {}
  /// Before each training forward pass the loop says which one it is: `seed` is the run's seed
  /// and `pass` counts the run's forward passes (step * K + k for micro-batch k of step `step`).
  /// A model whose forward draws random numbers (dropout) draws them from these two alone, so a
  /// resumed run draws what the uninterrupted run would have drawn. The default ignores them.
  virtual void set_forward_pass(uint64_t /*seed*/, uint64_t /*pass*/) {}

  /// The backend whose memory holds params() and grads(); the optimizer keeps its moments there
  /// too and updates them with the backend's training operations (training_ops.h).
  virtual Backend& backend() = 0;
  /// All parameters, one contiguous buffer in backend()'s memory.
  virtual std::span<float> params() = 0;
  /// Their gradients, same layout, same memory.
  virtual std::span<float> grads() = 0;
  /// The named parameter tensors inside params(), in buffer order (for weight decay masks).
  virtual std::vector<ParamInfo> param_infos() const = 0;

  /// Token ids must be below this.
  virtual int vocab_size() const = 0;
  /// The longest sequence forward() accepts.
  virtual int max_seq_len() const = 0;

  /// Writes the model into directory `dir` (created if needed), each file atomically.
  virtual void save(const std::filesystem::path& dir) const = 0;
  /// Reads what save() wrote back into this model (same configuration), exactly.
  virtual void load(const std::filesystem::path& dir) = 0;
};

}  // namespace gpt2
