#include "adamw.h"

#include <cmath>

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

AdamW::AdamW(size_t n, std::vector<ParamRange> ranges, AdamWConfig config)
    : config_(config), ranges_(std::move(ranges)), m_(n, 0.0f), v_(n, 0.0f) {
  size_t expected = 0;
  for (const ParamRange& r : ranges_) {
    GPT2_CHECK(r.offset == expected,
               "AdamW: parameter ranges must cover the buffer in order; a range starts at ", r.offset,
               ", expected ", expected);
    expected += r.size;
  }
  GPT2_CHECK(expected == n, "AdamW: parameter ranges cover ", expected, " elements, the buffer has ", n);
}

void AdamW::step(std::span<float> params, std::span<const float> grads, float lr) {
  GPT2_CHECK(params.size() == m_.size() && grads.size() == m_.size(), "AdamW::step: expected ", m_.size(),
             " parameters and gradients, got ", params.size(), " and ", grads.size());
  ++step_;
  for (const ParamRange& r : ranges_) {
    adamw_update(params.data() + r.offset, grads.data() + r.offset, m_.data() + r.offset,
                 v_.data() + r.offset, r.size, step_, lr, config_.beta1, config_.beta2, config_.eps,
                 r.decay ? config_.weight_decay : 0.0f);
  }
}

void AdamW::save(const std::filesystem::path& path) const {
  SafetensorsWriter w;
  const Shape shape{static_cast<int64_t>(m_.size())};
  w.add("adamw.m", shape, m_);
  w.add("adamw.v", shape, v_);
  const int64_t step = step_;
  w.add_int64("adamw.step", {1}, std::span<const int64_t>(&step, 1));
  w.set_metadata("step", std::to_string(step_));
  w.write(path);
}

void AdamW::load(const std::filesystem::path& path) {
  SafetensorsFile f = SafetensorsFile::open(path);
  const Shape shape{static_cast<int64_t>(m_.size())};
  f.read_into("adamw.m", shape, m_);
  f.read_into("adamw.v", shape, v_);
  std::vector<int64_t> step = f.get_int("adamw.step");
  GPT2_CHECK(step.size() == 1 && step[0] >= 0, path.string(), ": 'adamw.step' must hold one step count >= 0");
  step_ = step[0];
}

}  // namespace gpt2
