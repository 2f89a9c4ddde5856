/// @file gpt2_trainable.h
/// @brief Chapter 05's GPT-2 as a TrainableModel, and train() for it.
///
/// The adapter only forwards calls (and puts the model in training mode: gradients allocated,
/// activations kept for the backward pass): the parameter list for weight decay comes from the model's
/// ParameterLayout (every 2-D tensor decays: wte, wpe and the four projection matrices of each
/// block), and a checkpoint's model is a Hugging Face model directory (config.json +
/// model.safetensors, plus the tokenizer files when a tokenizer directory is given), so any
/// checkpoint of a run can be loaded by GPT2::load, by chapter 07's sampler or by transformers.
#pragma once

#include <filesystem>

#include "chapters/05_gpt2_model/gpt2.h"
#include "trainable.h"
#include "trainer.h"

namespace gpt2 {

/// A GPT2 seen through the TrainableModel interface (it does not own the model).
class Gpt2Trainable : public TrainableModel {
 public:
  /// Switches `model` to training mode. `tokenizer_dir`, if not empty, is copied into every
  /// checkpoint (see GPT2::save).
  explicit Gpt2Trainable(GPT2& model, std::filesystem::path tokenizer_dir = {});

  float forward(const int* inputs, const int* targets, int B, int T) override;
  void zero_grad() override { model_.zero_grad(); }
  void backward() override { model_.backward(); }
  void set_grad_ready_callback(std::function<void(const GradsReady&)> callback) override {
    model_.set_grad_ready_callback(std::move(callback));
  }
  void backward_weighted(float weight) override { model_.backward(weight); }
  void set_training(bool training) override;
  void set_forward_pass(uint64_t seed, uint64_t pass) override { model_.set_dropout_pass(seed, pass); }
  Backend& backend() override { return model_.backend(); }
  std::span<float> params() override { return model_.trainable_params(); }
  std::span<float> grads() override { return model_.grads(); }
  std::vector<ParamInfo> param_infos() const override;
  int vocab_size() const override { return model_.config().vocab_size; }
  int max_seq_len() const override { return model_.config().n_positions; }
  void save(const std::filesystem::path& dir) const override;
  void load(const std::filesystem::path& dir) override;

 protected:
  GPT2& model_;  // a fine-tuning model (chapter 10) derives from this one and adds layers to it

 private:
  std::filesystem::path tokenizer_dir_;
};

/// The named tensors of model.trainable_params() that are the model's own (the frozen ones left out),
/// with offsets counted from the first trainable parameter: the list AdamW's weight decay needs.
std::vector<ParamInfo> trainable_param_infos(const GPT2& model);

/// train() for a GPT2 (what chapter 12's `gpt2 train` calls).
TrainResult train(GPT2& model, const TrainConfig& config, const std::filesystem::path& tokenizer_dir = {},
                  const StepCallback& on_step = {});

}  // namespace gpt2
