#include "gpt2_trainable.h"

namespace gpt2 {

Gpt2Trainable::Gpt2Trainable(GPT2& model, std::filesystem::path tokenizer_dir)
    : model_(model), tokenizer_dir_(std::move(tokenizer_dir)) {
  model_.set_mode(GPT2::Mode::training);
}

float Gpt2Trainable::forward(const int* inputs, const int* targets, int B, int T) {
  return model_.forward(inputs, targets, B, T);
}

void Gpt2Trainable::set_training(bool training) {
  // Evaluation runs in inference mode (no dropout; the gradients stay allocated).
  model_.set_mode(training ? GPT2::Mode::training : GPT2::Mode::inference);
}

std::vector<ParamInfo> trainable_param_infos(const GPT2& model) {
  std::vector<ParamInfo> infos;
  for (const ParamSpec& spec : model.layout().specs()) {
    if (spec.offset < model.trainable_from()) continue;  // frozen
    infos.push_back({spec.name, static_cast<size_t>(spec.offset - model.trainable_from()), spec.shape});
  }
  return infos;
}

std::vector<ParamInfo> Gpt2Trainable::param_infos() const {
  return trainable_param_infos(model_);
}

void Gpt2Trainable::save(const std::filesystem::path& dir) const {
  model_.save(dir, tokenizer_dir_);
}

void Gpt2Trainable::load(const std::filesystem::path& dir) {
  model_.read_weights(dir);
}

TrainResult train(GPT2& model, const TrainConfig& config, const std::filesystem::path& tokenizer_dir,
                  const StepCallback& on_step) {
  Gpt2Trainable trainable(model, tokenizer_dir);
  return train(trainable, config, on_step);
}

}  // namespace gpt2
