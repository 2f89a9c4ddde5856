#include "parameters.h"

#include "common/error.h"

namespace gpt2 {

ParameterLayout::ParameterLayout(const GPT2Config& config) : config_(config) {
  config.validate();
  const int64_t C = config.n_embd, V = config.vocab_size, maxT = config.n_positions;
  auto add = [&](std::string name, Shape shape) {
    int64_t n = shape_numel(shape);
    specs_.push_back({std::move(name), std::move(shape), total_, n});
    total_ += n;
  };
  add("wte.weight", {V, C});
  add("wpe.weight", {maxT, C});
  // Each block's tensors in chapter 04's order (kBlockParamNames, the order of BlockParams).
  const Shape block_shapes[12] = {{C}, {C}, {C, 3 * C}, {3 * C}, {C, C},     {C},
                                  {C}, {C}, {C, 4 * C}, {4 * C}, {4 * C, C}, {C}};
  for (int l = 0; l < config.n_layer; ++l) {
    for (int k = 0; k < 12; ++k) add(cat("h.", l, ".", kBlockParamNames[k]), block_shapes[k]);
  }
  add("ln_f.weight", {C});
  add("ln_f.bias", {C});
}

const ParamSpec& ParameterLayout::find(std::string_view name) const {
  for (const ParamSpec& s : specs_) {
    if (s.name == name) return s;
  }
  fail("GPT-2 has no parameter named '", name, "'");
}

namespace {
// The buffer order is fixed by the constructor: wte, wpe, L blocks of block_num_params(C), ln_f.
template <typename F>
ModelParams<F> bind_impl(const ParameterLayout& layout, F* base) {
  const GPT2Config& c = layout.config();
  ModelParams<F> p;
  p.wte = base + layout.find("wte.weight").offset;
  p.wpe = base + layout.find("wpe.weight").offset;
  for (int l = 0; l < c.n_layer; ++l) {
    p.blocks.push_back(block_params_view(base + layout.find(cat("h.", l, ".ln_1.weight")).offset, c.n_embd));
  }
  p.lnf_w = base + layout.find("ln_f.weight").offset;
  p.lnf_b = base + layout.find("ln_f.bias").offset;
  return p;
}
}  // namespace

ModelParams<float> ParameterLayout::bind(float* base) const {
  return bind_impl(*this, base);
}

ModelParams<const float> ParameterLayout::bind(const float* base) const {
  return bind_impl(*this, base);
}

Tensor ParameterLayout::view(const Tensor& buffer, std::string_view name) const {
  GPT2_CHECK(buffer.numel() == total_, "parameter buffer holds ", buffer.numel(),
             " floats, the layout needs ", total_);
  const ParamSpec& s = find(name);
  return buffer.flat_view(s.offset, s.shape);
}

int64_t count_parameters(const GPT2Config& c) {
  const int64_t C = c.n_embd, V = c.vocab_size, maxT = c.n_positions, L = c.n_layer;
  // Per block: ln_1 and ln_2 (2C each), c_attn (3C^2 + 3C), attn c_proj (C^2 + C),
  // c_fc (4C^2 + 4C), mlp c_proj (4C^2 + C): 12 C^2 + 13 C.
  return V * C + maxT * C + L * (12 * C * C + 13 * C) + 2 * C;
}

}  // namespace gpt2
