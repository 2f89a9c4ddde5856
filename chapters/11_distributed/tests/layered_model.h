// A small model whose backward reports, layer by layer, which gradients are final: a token
// embedding, L tanh layers and a linear head with the mean cross-entropy,
//
//   x_0 = wte[token],  x_{l+1} = tanh(x_l W_l + b_l),  logits = x_L W_h + b_h.
//
// The parameters are laid out like GPT-2's (input side first, head last), so backward finishes
// the buffer from its end: after the head, every gradient from the head's offset on is final;
// after layer l, everything from W_l's offset on; after the embedding, everything. Until the
// embedding's backward, wte's gradient is final too except the rows of the input tokens (they
// are still zero; only the embedding's backward adds to them), and every report says so, like
// chapter 05's GPT-2 does for its tied wte. `on_ready` hears each of these reports.
#pragma once

#include <cmath>
#include <functional>
#include <vector>

#include "chapters/06_training/trainable.h"
#include "common/file_io.h"
#include "common/rng.h"
#include "common/safetensors.h"

namespace ch11_test {

class LayeredModel : public gpt2::TrainableModel {
 public:
  LayeredModel(int V, int C, int L, uint64_t seed) : V_(V), C_(C), L_(L) {
    size_t at = 0;
    auto take = [&](std::string name, gpt2::Shape shape) {
      infos_.push_back({std::move(name), at, shape});
      at += static_cast<size_t>(gpt2::shape_numel(shape));
      return infos_.back().offset;
    };
    wte_ = take("wte", {V, C});
    for (int l = 0; l < L; ++l) {
      w_.push_back(take("w" + std::to_string(l), {C, C}));
      b_.push_back(take("b" + std::to_string(l), {C}));
    }
    wh_ = take("wh", {C, V});
    bh_ = take("bh", {V});
    params_.assign(at, 0.0f);
    grads_.assign(at, 0.0f);
    gpt2::Rng rng(seed);
    for (const auto& info : infos_) {
      if (info.shape.size() == 2) {
        for (int64_t i = 0; i < gpt2::shape_numel(info.shape); ++i)
          params_[info.offset + i] = rng.normal(0.0f, 0.3f);
      }
    }
  }

  /// Called during backward with "every gradient at offset >= first_ready is final, and wte's
  /// except the input tokens' rows".
  void set_grad_ready_callback(std::function<void(const gpt2::GradsReady&)> callback) override {
    on_ready_ = std::move(callback);
  }

  float forward(const int* inputs, const int* targets, int B, int T) override {
    N_ = B * T;
    tokens_.assign(inputs, inputs + N_);
    targets_.assign(targets, targets + N_);
    x_.assign(L_ + 1, std::vector<float>(static_cast<size_t>(N_) * C_));
    for (int n = 0; n < N_; ++n) {
      for (int c = 0; c < C_; ++c)
        x_[0][n * C_ + c] = params_[wte_ + static_cast<size_t>(inputs[n]) * C_ + c];
    }
    for (int l = 0; l < L_; ++l) {
      for (int n = 0; n < N_; ++n) {
        for (int j = 0; j < C_; ++j) {
          float z = params_[b_[l] + j];
          for (int i = 0; i < C_; ++i)
            z += x_[l][n * C_ + i] * params_[w_[l] + static_cast<size_t>(i) * C_ + j];
          x_[l + 1][n * C_ + j] = std::tanh(z);
        }
      }
    }
    probs_.assign(static_cast<size_t>(N_) * V_, 0.0f);
    double loss = 0.0;
    for (int n = 0; n < N_; ++n) {
      float* p = probs_.data() + static_cast<size_t>(n) * V_;
      float maxv = -INFINITY;
      for (int v = 0; v < V_; ++v) {
        float z = params_[bh_ + v];
        for (int i = 0; i < C_; ++i) z += x_[L_][n * C_ + i] * params_[wh_ + static_cast<size_t>(i) * V_ + v];
        p[v] = z;
        maxv = std::fmax(maxv, z);
      }
      float sum = 0.0f;
      for (int v = 0; v < V_; ++v) sum += (p[v] = std::exp(p[v] - maxv));
      for (int v = 0; v < V_; ++v) p[v] /= sum;
      loss -= std::log(p[targets[n]]);
    }
    return static_cast<float>(loss / N_);
  }

  void zero_grad() override { std::fill(grads_.begin(), grads_.end(), 0.0f); }

  void backward() override {
    // The head: dlogits = (p - onehot) / N.
    std::vector<float> dx(static_cast<size_t>(N_) * C_, 0.0f);
    for (int n = 0; n < N_; ++n) {
      for (int v = 0; v < V_; ++v) {
        const float d = (probs_[static_cast<size_t>(n) * V_ + v] - (v == targets_[n] ? 1.0f : 0.0f)) / N_;
        grads_[bh_ + v] += d;
        for (int i = 0; i < C_; ++i) {
          grads_[wh_ + static_cast<size_t>(i) * V_ + v] += x_[L_][n * C_ + i] * d;
          dx[n * C_ + i] += d * params_[wh_ + static_cast<size_t>(i) * V_ + v];
        }
      }
    }
    ready(wh_);
    for (int l = L_ - 1; l >= 0; --l) {
      std::vector<float> dprev(static_cast<size_t>(N_) * C_, 0.0f);
      for (int n = 0; n < N_; ++n) {
        for (int j = 0; j < C_; ++j) {
          const float y = x_[l + 1][n * C_ + j];
          const float dz = dx[n * C_ + j] * (1.0f - y * y);  // tanh' = 1 - tanh^2
          grads_[b_[l] + j] += dz;
          for (int i = 0; i < C_; ++i) {
            grads_[w_[l] + static_cast<size_t>(i) * C_ + j] += x_[l][n * C_ + i] * dz;
            dprev[n * C_ + i] += dz * params_[w_[l] + static_cast<size_t>(i) * C_ + j];
          }
        }
      }
      dx.swap(dprev);
      ready(w_[l]);
    }
    for (int n = 0; n < N_; ++n) {
      for (int c = 0; c < C_; ++c) grads_[wte_ + static_cast<size_t>(tokens_[n]) * C_ + c] += dx[n * C_ + c];
    }
    ready(0);
  }

  gpt2::Backend& backend() override { return cpu_; }  // host vectors: the plain loops work on them
  std::span<float> params() override { return params_; }
  std::span<float> grads() override { return grads_; }
  std::vector<gpt2::ParamInfo> param_infos() const override { return infos_; }
  int vocab_size() const override { return V_; }
  int max_seq_len() const override { return 1 << 20; }
  void save(const std::filesystem::path& dir) const override {
    gpt2::create_directories(dir);
    gpt2::SafetensorsWriter w;
    w.add("params", {static_cast<int64_t>(params_.size())}, params_);
    w.write(dir / "model.safetensors");
  }
  void load(const std::filesystem::path& dir) override {
    gpt2::SafetensorsFile::open(dir / "model.safetensors")
        .read_into("params", {static_cast<int64_t>(params_.size())}, params_);
  }

 private:
  gpt2::CpuBackend cpu_;
  void ready(size_t first_ready) {
    if (!on_ready_) return;
    gpt2::GradsReady report{first_ready};
    if (first_ready > 0) report = {first_ready, wte_, static_cast<size_t>(V_), static_cast<size_t>(C_)};
    on_ready_(report);
  }
  std::function<void(const gpt2::GradsReady&)> on_ready_;

  int V_, C_, L_, N_ = 0;
  size_t wte_ = 0, wh_ = 0, bh_ = 0;
  std::vector<size_t> w_, b_;
  std::vector<gpt2::ParamInfo> infos_;
  std::vector<float> params_, grads_, probs_;
  std::vector<std::vector<float>> x_;
  std::vector<int> tokens_, targets_;
};

}  // namespace ch11_test
