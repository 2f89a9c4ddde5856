// Exercises 06: each task checked against values known by hand and against PyTorch
// (tests/fixtures/06_adamw.safetensors, written by tests/reference/06_adamw.py).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "common/safetensors.h"
#include "common/testing.h"
#include "exercise.h"
#include "tests/catch.h"

namespace {
gpt2::SafetensorsFile fixture() {
  return gpt2::SafetensorsFile::open(std::filesystem::path(gpt2::fixture_dir()) / "06_adamw.safetensors");
}
std::vector<float> row(const std::vector<float>& all, size_t r, size_t n) {
  return std::vector<float>(all.begin() + r * n, all.begin() + (r + 1) * n);
}
}  // namespace

TEST_CASE("06.1 adamw_update matches torch.optim.AdamW", "[exercise]") {
  // By hand: at t = 1 the step is lr · g / (|g| + eps) = lr · sign(g), after the decay.
  std::vector<float> p{1.0f, -2.0f}, g{0.3f, -4.0f}, m(2, 0.0f), v(2, 0.0f);
  exercise::adamw_update(p.data(), g.data(), m.data(), v.data(), 2, 1, 0.1f, 0.9f, 0.999f, 1e-8f, 0.5f);
  CHECK(p[0] == Approx(0.95f - 0.1f).epsilon(1e-6));
  CHECK(p[1] == Approx(-1.9f + 0.1f).epsilon(1e-6));

  // PyTorch: the fixture's 8 steps (gradients clipped as torch clipped them; weight decay on the
  // two matrices at [0, 24) and [35, 47), none on the vectors at [24, 35)).
  auto f = fixture();
  const auto& meta = f.metadata();
  std::vector<float> params = f.get_vector("params0");
  const size_t n = params.size();
  const auto grads = f.get_vector("grads"), after = f.get_vector("params"), norms = f.get_vector("norms"),
             lrs = f.get_vector("lrs");
  const float b1 = std::stof(meta.at("beta1")), b2 = std::stof(meta.at("beta2")),
              eps = std::stof(meta.at("eps")), wd = std::stof(meta.at("weight_decay")),
              max_norm = std::stof(meta.at("max_norm"));
  std::vector<float> mm(n, 0.0f), vv(n, 0.0f);
  for (int s = 0; s < std::stoi(meta.at("steps")); ++s) {
    std::vector<float> gs = row(grads, s, n);
    if (norms[s] > max_norm) {
      for (float& x : gs) x *= static_cast<float>(max_norm / (norms[s] + 1e-6));
    }
    struct Range {
      size_t offset, size;
      float wd;
    };
    for (Range r : {Range{0, 24, wd}, Range{24, 11, 0.0f}, Range{35, 12, wd}}) {
      exercise::adamw_update(params.data() + r.offset, gs.data() + r.offset, mm.data() + r.offset,
                             vv.data() + r.offset, r.size, s + 1, lrs[s], b1, b2, eps, r.wd);
    }
    auto res =
        gpt2::rel_close(params, row(after, s, n), 1e-6, "parameters after step " + std::to_string(s + 1));
    INFO(res.message);
    CHECK(res.ok);
  }
}

TEST_CASE("06.2 lr_at: warmup, cosine decay, floor", "[exercise]") {
  CHECK(exercise::lr_at(1.0f, 0.1f, 4, 14, 0) == Approx(0.25));
  CHECK(exercise::lr_at(1.0f, 0.1f, 4, 14, 3) == Approx(1.0));
  CHECK(exercise::lr_at(1.0f, 0.1f, 4, 14, 9) == Approx(0.55));  // half-way down the cosine
  CHECK(exercise::lr_at(1.0f, 0.1f, 4, 14, 14) == Approx(0.1));
  CHECK(exercise::lr_at(1.0f, 0.1f, 4, 14, 500) == Approx(0.1));
  auto f = fixture();  // the learning rates torch's LambdaLR used
  const auto& meta = f.metadata();
  const auto lrs = f.get_vector("lrs");
  for (int s = 0; s < static_cast<int>(lrs.size()); ++s) {
    CHECK(exercise::lr_at(std::stof(meta.at("max_lr")), std::stof(meta.at("min_lr")),
                          std::stoi(meta.at("warmup")), std::stoi(meta.at("total")),
                          s) == Approx(lrs[s]).epsilon(1e-6));
  }
}

TEST_CASE("06.3 clip_grad_norm matches torch.nn.utils.clip_grad_norm_", "[exercise]") {
  std::vector<float> g{3.0f, 4.0f};
  CHECK(exercise::clip_grad_norm(g.data(), 2, 10.0f) == 5.0f);
  CHECK((g[0] == 3.0f && g[1] == 4.0f));  // under the limit: untouched
  CHECK(exercise::clip_grad_norm(g.data(), 2, 1.0f) == 5.0f);
  CHECK(g[0] == Approx(0.6f).epsilon(1e-6));
  CHECK(g[1] == Approx(0.8f).epsilon(1e-6));
  auto f = fixture();
  const auto grads = f.get_vector("grads"), norms = f.get_vector("norms");
  const size_t n = f.get_vector("params0").size();
  for (size_t s = 0; s < norms.size(); ++s) {
    std::vector<float> gs = row(grads, s, n);
    CHECK(exercise::clip_grad_norm(gs.data(), n, 1.0f) == Approx(norms[s]).epsilon(1e-6));
    double after = 0;
    for (float x : gs) after += static_cast<double>(x) * x;
    CHECK(std::sqrt(after) == Approx(std::min(1.0f, norms[s])).epsilon(1e-5));
  }
}

namespace {

// The model of 06.4's test: a bigram, logits[i] = W[x_i] + b, with the mean cross-entropy over the
// batch's positions. Parameters: W (V, V), then b (V), in one buffer.
struct Bigram {
  int V;
  std::vector<float> params, grads;
  exercise::Batch last;

  explicit Bigram(int vocab) : V(vocab), params(static_cast<size_t>(V) * V + V), grads(params.size()) {}

  // The softmax of position i's logits, in double.
  std::vector<double> probs(int x) const {
    std::vector<double> p(V);
    double m = -1e30, sum = 0;
    for (int v = 0; v < V; ++v) m = std::max(m, static_cast<double>(params[x * V + v]) + params[V * V + v]);
    for (int v = 0; v < V; ++v) sum += p[v] = std::exp(params[x * V + v] + params[V * V + v] - m);
    for (double& q : p) q /= sum;
    return p;
  }
  float forward(const exercise::Batch& batch) {
    last = batch;
    double loss = 0;
    for (size_t i = 0; i < batch.inputs.size(); ++i)
      loss -= std::log(probs(batch.inputs[i])[batch.targets[i]]);
    return static_cast<float>(loss / static_cast<double>(batch.inputs.size()));
  }
  void backward() {  // adds
    const double n = static_cast<double>(last.inputs.size());
    for (size_t i = 0; i < last.inputs.size(); ++i) {
      std::vector<double> p = probs(last.inputs[i]);
      p[last.targets[i]] -= 1.0;
      for (int v = 0; v < V; ++v) {
        grads[last.inputs[i] * V + v] += static_cast<float>(p[v] / n);
        grads[V * V + v] += static_cast<float>(p[v] / n);
      }
    }
  }
  exercise::StepModel step_model() {
    exercise::StepModel m;
    m.params = params;
    m.grads = grads;
    m.ranges = {{0, static_cast<size_t>(V) * V, true},
                {static_cast<size_t>(V) * V, static_cast<size_t>(V), false}};
    m.forward = [this](const exercise::Batch& b) { return forward(b); };
    m.backward = [this] { backward(); };
    return m;
  }
};

}  // namespace

TEST_CASE("06.4 train_step: zero, K forward/backward, average, clip, AdamW, as PyTorch does", "[exercise]") {
  const auto f =
      gpt2::SafetensorsFile::open(std::filesystem::path(gpt2::fixture_dir()) / "06_train_step.safetensors");
  const auto& meta = f.metadata();
  const int V = std::stoi(meta.at("V")), K = std::stoi(meta.at("K")), steps = std::stoi(meta.at("steps"));
  const int BT = std::stoi(meta.at("B")) * std::stoi(meta.at("T"));
  const exercise::AdamWSettings settings{std::stof(meta.at("beta1")), std::stof(meta.at("beta2")),
                                         std::stof(meta.at("eps")), std::stof(meta.at("weight_decay"))};
  const float max_norm = std::stof(meta.at("max_norm"));
  const std::vector<int64_t> inputs = f.get_int("inputs"), targets = f.get_int("targets");
  const std::vector<float> lrs = f.get_vector("lrs"), losses = f.get_vector("losses"),
                           norms = f.get_vector("norms"), after = f.get_vector("params");

  Bigram model(V);
  model.params = f.get_vector("params0");
  REQUIRE(model.params.size() == static_cast<size_t>(V) * V + V);
  const size_t n = model.params.size();

  // The test's model is itself right: its backward against central differences of its forward.
  {
    exercise::Batch b;
    for (int i = 0; i < BT; ++i) {
      b.inputs.push_back(static_cast<int>(inputs[i]));
      b.targets.push_back(static_cast<int>(targets[i]));
    }
    Bigram probe = model;
    std::vector<double> x(probe.params.begin(), probe.params.end());
    std::vector<double> numeric(n);
    for (size_t i = 0; i < n; ++i) {
      const float saved = probe.params[i];
      probe.params[i] = saved + 1e-2f;
      const double plus = probe.forward(b);
      probe.params[i] = saved - 1e-2f;
      const double minus = probe.forward(b);
      probe.params[i] = saved;
      numeric[i] = (plus - minus) / 2e-2;
    }
    probe.forward(b);
    probe.backward();
    for (size_t i = 0; i < n; ++i) REQUIRE(std::fabs(probe.grads[i] - numeric[i]) < 2e-3);
  }

  // Garbage in the gradient buffer: train_step must start from zero.
  std::fill(model.grads.begin(), model.grads.end(), 7.0f);
  exercise::StepModel sm = model.step_model();
  exercise::AdamWState optimizer{std::vector<float>(n, 0.0f), std::vector<float>(n, 0.0f), 0};
  for (int s = 0; s < steps; ++s) {
    std::vector<exercise::Batch> micro(K);
    for (int k = 0; k < K; ++k) {
      for (int i = 0; i < BT; ++i) {
        const size_t at = (static_cast<size_t>(s) * K + k) * BT + i;
        micro[k].inputs.push_back(static_cast<int>(inputs[at]));
        micro[k].targets.push_back(static_cast<int>(targets[at]));
      }
    }
    const exercise::StepResult r = exercise::train_step(sm, optimizer, settings, micro, lrs[s], max_norm);
    INFO("step " << s + 1 << (norms[s] > max_norm ? " (clipped)" : " (not clipped)"));
    CHECK(r.loss == Approx(losses[s]).epsilon(1e-5));
    CHECK(r.grad_norm == Approx(norms[s]).epsilon(1e-5));
    CHECK(optimizer.step == s + 1);
    auto res = gpt2::rel_close(model.params, row(after, s, n), 1e-5,
                               "parameters after step " + std::to_string(s + 1));
    INFO(res.message);
    CHECK(res.ok);
  }
}
