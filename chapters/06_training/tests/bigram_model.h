// A tiny model for testing the training loop without chapter 05: a bigram language model,
// logits[b, t, :] = weight[inputs[b, t], :] + bias, with the mean cross-entropy as its loss.
// Its parameters are one buffer: weight (V, V) then bias (V), so AdamW decays the weight only.
#pragma once

#include <cmath>
#include <filesystem>
#include <vector>

#include "chapters/06_training/trainable.h"
#include "common/file_io.h"
#include "common/rng.h"
#include "common/safetensors.h"

namespace gpt2::testing {

class BigramModel : public TrainableModel {
 public:
  explicit BigramModel(int V, uint64_t seed = 1)
      : V_(V), params_(static_cast<size_t>(V) * V + V), grads_(params_.size()) {
    Rng rng(seed);
    rng.fill_normal(std::span<float>(params_).first(static_cast<size_t>(V) * V), 0.0f, 0.02f);
  }

  float forward(const int* inputs, const int* targets, int B, int T) override {
    const int N = B * T;
    probs_.assign(static_cast<size_t>(N) * V_, 0.0f);
    inputs_.assign(inputs, inputs + N);
    targets_.assign(targets, targets + N);
    const float* bias = params_.data() + static_cast<size_t>(V_) * V_;
    double loss = 0.0;
    for (int i = 0; i < N; ++i) {
      const float* w = params_.data() + static_cast<size_t>(inputs[i]) * V_;
      float* p = probs_.data() + static_cast<size_t>(i) * V_;
      float maxv = -INFINITY;
      for (int v = 0; v < V_; ++v) maxv = std::fmax(maxv, p[v] = w[v] + bias[v]);
      float sum = 0.0f;
      for (int v = 0; v < V_; ++v) sum += (p[v] = std::exp(p[v] - maxv));
      for (int v = 0; v < V_; ++v) p[v] /= sum;
      loss -= std::log(p[targets[i]]);
    }
    return static_cast<float>(loss / N);
  }
  void zero_grad() override { std::fill(grads_.begin(), grads_.end(), 0.0f); }
  void backward() override {
    const int N = static_cast<int>(inputs_.size());
    float* dbias = grads_.data() + static_cast<size_t>(V_) * V_;
    for (int i = 0; i < N; ++i) {
      float* dw = grads_.data() + static_cast<size_t>(inputs_[i]) * V_;
      const float* p = probs_.data() + static_cast<size_t>(i) * V_;
      for (int v = 0; v < V_; ++v) {
        float d = (p[v] - (v == targets_[i] ? 1.0f : 0.0f)) / N;
        dw[v] += d;
        dbias[v] += d;
      }
    }
  }
  Backend& backend() override { return cpu_; }  // host vectors: the plain loops work on them
  std::span<float> params() override { return params_; }
  std::span<float> grads() override { return grads_; }
  std::vector<ParamInfo> param_infos() const override {
    return {{"weight", 0, {V_, V_}}, {"bias", static_cast<size_t>(V_) * V_, {V_}}};
  }
  int vocab_size() const override { return V_; }
  int max_seq_len() const override { return 1 << 20; }
  void save(const std::filesystem::path& dir) const override {
    gpt2::create_directories(dir);
    SafetensorsWriter w;
    w.add("params", {static_cast<int64_t>(params_.size())}, params_);
    w.write(dir / "model.safetensors");
  }
  void load(const std::filesystem::path& dir) override {
    SafetensorsFile::open(dir / "model.safetensors")
        .read_into("params", {static_cast<int64_t>(params_.size())}, params_);
  }

 private:
  CpuBackend cpu_;
  int V_;
  std::vector<float> params_, grads_, probs_;
  std::vector<int> inputs_, targets_;
};

}  // namespace gpt2::testing
