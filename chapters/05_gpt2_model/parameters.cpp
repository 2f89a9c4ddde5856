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
  for (int l = 0; l < config.n_layer; ++l) {
    std::string h = cat("h.", l, ".");
    add(h + "ln_1.weight", {C});
    add(h + "ln_1.bias", {C});
    add(h + "attn.c_attn.weight", {C, 3 * C});
    add(h + "attn.c_attn.bias", {3 * C});
    add(h + "attn.c_proj.weight", {C, C});
    add(h + "attn.c_proj.bias", {C});
    add(h + "ln_2.weight", {C});
    add(h + "ln_2.bias", {C});
    add(h + "mlp.c_fc.weight", {C, 4 * C});
    add(h + "mlp.c_fc.bias", {4 * C});
    add(h + "mlp.c_proj.weight", {4 * C, C});
    add(h + "mlp.c_proj.bias", {C});
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
// The specs are in the fixed order of the constructor: 2 embeddings, 12 per block, 2 for ln_f.
template <typename P>
ModelWeights<P> bind_impl(const std::vector<ParamSpec>& specs, int n_layer, P base) {
  size_t k = 0;
  auto next = [&] { return base + specs[k++].offset; };
  ModelWeights<P> w;
  w.wte = next();
  w.wpe = next();
  w.blocks.resize(static_cast<size_t>(n_layer));
  for (BlockWeights<P>& b : w.blocks) {
    b.ln1_w = next();
    b.ln1_b = next();
    b.qkv_w = next();
    b.qkv_b = next();
    b.attproj_w = next();
    b.attproj_b = next();
    b.ln2_w = next();
    b.ln2_b = next();
    b.fc_w = next();
    b.fc_b = next();
    b.fcproj_w = next();
    b.fcproj_b = next();
  }
  w.lnf_w = next();
  w.lnf_b = next();
  return w;
}
}  // namespace

ModelWeights<float*> ParameterLayout::bind(float* base) const {
  return bind_impl(specs_, config_.n_layer, base);
}

ModelWeights<const float*> ParameterLayout::bind(const float* base) const {
  return bind_impl(specs_, config_.n_layer, base);
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
