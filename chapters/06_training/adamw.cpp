#include "adamw.h"

#include <cmath>

#include "chapters/06_training/training_ops.h"
#include "common/error.h"
#include "common/safetensors.h"

namespace gpt2 {

void adamw_update(float* param, const float* grad, float* m, float* v, size_t n, int64_t step, float lr,
                  float beta1, float beta2, float eps, float weight_decay) {
  // The scalars are computed once, in double (as Python does for torch), then used in float.
  const double bias_correction1 = 1.0 - std::pow(static_cast<double>(beta1), static_cast<double>(step));
  const double bias_correction2 = 1.0 - std::pow(static_cast<double>(beta2), static_cast<double>(step));
  const float decay_factor = static_cast<float>(1.0 - static_cast<double>(lr) * weight_decay);
  const float one_minus_beta1 = static_cast<float>(1.0 - beta1);
  const float one_minus_beta2 = static_cast<float>(1.0 - beta2);
  const float step_size = static_cast<float>(lr / bias_correction1);  // lr / (1 - β1^t)
  const float bias_correction2_sqrt = static_cast<float>(std::sqrt(bias_correction2));
  // Every element is independent, so the threads may split the loop any way they like: the result
  // does not depend on the number of threads.
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; ++i) {
    const float g = grad[i];
    float p = param[i] * decay_factor;                                  // decoupled weight decay
    m[i] = m[i] * beta1 + one_minus_beta1 * g;                          // first moment
    v[i] = v[i] * beta2 + one_minus_beta2 * (g * g);                    // second moment
    const float denom = std::sqrt(v[i]) / bias_correction2_sqrt + eps;  // √v̂ + ε
    param[i] = p - step_size * (m[i] / denom);                          // p − lr · m̂ / (√v̂ + ε)
  }
}

std::vector<ParamRange> decay_ranges(const std::vector<ParamInfo>& params) {
  std::vector<ParamRange> ranges;
  for (const ParamInfo& p : params) {
    ParamRange r{p.offset, static_cast<size_t>(shape_numel(p.shape)), p.shape.size() >= 2};
    if (!ranges.empty() && ranges.back().decay == r.decay &&
        ranges.back().offset + ranges.back().size == r.offset) {
      ranges.back().size += r.size;  // merge with the previous range
    } else {
      ranges.push_back(r);
    }
  }
  return ranges;
}

AdamW::AdamW(Backend& backend, size_t n, std::vector<ParamRange> ranges, AdamWConfig config)
    : backend_(&backend), config_(config), ranges_(std::move(ranges)), n_(n) {
  size_t expected = 0;
  for (const ParamRange& r : ranges_) {
    GPT2_CHECK(r.offset == expected,
               "AdamW: parameter ranges must cover the buffer in order; a range starts at ", r.offset,
               ", expected ", expected);
    expected += r.size;
  }
  GPT2_CHECK(expected == n, "AdamW: parameter ranges cover ", expected, " elements, the buffer has ", n);
  m_ = BackendBuffer(backend, n * sizeof(float));  // zeroed: the moments start at 0
  v_ = BackendBuffer(backend, n * sizeof(float));
}

void AdamW::step(std::span<float> params, std::span<const float> grads, float lr) {
  GPT2_CHECK(params.size() == n_ && grads.size() == n_, "AdamW::step: expected ", n_,
             " parameters and gradients, got ", params.size(), " and ", grads.size());
  ++step_;
  TrainingOps& ops = training_ops(*backend_);
  for (const ParamRange& r : ranges_) {
    ops.adamw_update(params.data() + r.offset, grads.data() + r.offset, m_.floats() + r.offset,
                     v_.floats() + r.offset, r.size, step_, lr, config_.beta1, config_.beta2, config_.eps,
                     r.decay ? config_.weight_decay : 0.0f);
  }
}

std::vector<float> AdamW::m() const {
  return to_host(*backend_, m_.floats(), n_);
}

std::vector<float> AdamW::v() const {
  return to_host(*backend_, v_.floats(), n_);
}

AdamWState AdamW::state() const {
  return {m(), v(), step_};
}

void AdamW::set_state(const AdamWState& state) {
  GPT2_CHECK(state.m.size() == n_ && state.v.size() == n_ && state.step >= 0, "AdamW::set_state: ", n_,
             " parameters, got moments of ", state.m.size(), " and ", state.v.size(), " floats and step ",
             state.step);
  backend_->copy_to_device(m_.floats(), state.m.data(), n_ * sizeof(float));
  backend_->copy_to_device(v_.floats(), state.v.data(), n_ * sizeof(float));
  step_ = state.step;
}

void AdamW::save(const std::filesystem::path& path) const {
  write_adamw_state(path, state());
}

void AdamW::load(const std::filesystem::path& path) {
  set_state(read_adamw_state(path, n_));  // everything read and checked before the state changes
}

void write_adamw_state(const std::filesystem::path& path, const AdamWState& state) {
  GPT2_CHECK(state.m.size() == state.v.size(), "write_adamw_state: m has ", state.m.size(), " floats, v ",
             state.v.size());
  SafetensorsWriter w;
  const Shape shape{static_cast<int64_t>(state.m.size())};
  w.add_view("adamw.m", shape, state.m);  // no copies: `state` outlives the write
  w.add_view("adamw.v", shape, state.v);
  const int64_t step = state.step;
  w.add_int64("adamw.step", {1}, std::span<const int64_t>(&step, 1));
  w.set_metadata("step", std::to_string(step));
  w.write(path);
}

AdamWState read_adamw_state(const std::filesystem::path& path, size_t n) {
  SafetensorsFile f = SafetensorsFile::open(path);
  const Shape shape{static_cast<int64_t>(n)};
  AdamWState state;
  state.m.resize(n);
  state.v.resize(n);
  f.read_into("adamw.m", shape, state.m);
  f.read_into("adamw.v", shape, state.v);
  std::vector<int64_t> step = f.get_int("adamw.step");
  GPT2_CHECK(step.size() == 1 && step[0] >= 0, path.string(), ": 'adamw.step' must hold one step count >= 0");
  state.step = step[0];
  return state;
}

}  // namespace gpt2
