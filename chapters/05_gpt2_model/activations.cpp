#include "activations.h"

#include <cstdio>

#include "chapters/05_gpt2_model/parameters.h"
#include "common/error.h"

namespace gpt2 {

namespace {

// Hands out consecutive pieces of one buffer. With base == nullptr it only counts, so the
// sizes and the binding can never disagree.
class Carver {
 public:
  explicit Carver(float* base) : base_(base) {}
  float* take(int64_t n) {
    float* p = base_ ? base_ + used_ : nullptr;
    used_ += n;
    return p;
  }
  int64_t used() const { return used_; }

 private:
  float* base_;
  int64_t used_ = 0;
};

void check_batch(const GPT2Config& c, int B, int T) {
  GPT2_CHECK(B > 0, "batch size B must be positive, got ", B);
  GPT2_CHECK(T > 0 && T <= c.n_positions, "sequence length T must be in [1, ", c.n_positions,
             "] (the model's context), got ", T);
}

Activations carve_activations(Carver& k, const GPT2Config& c, int B, int T) {
  const int64_t BT = int64_t{B} * T, C = c.n_embd, NH = c.n_head, V = c.vocab_size;
  Activations a;
  a.encoded = k.take(BT * C);
  a.blocks.resize(static_cast<size_t>(c.n_layer));
  for (LayerActivations& b : a.blocks) {
    b.ln1 = k.take(BT * C);
    b.ln1_mean = k.take(BT);
    b.ln1_rstd = k.take(BT);
    b.qkv = k.take(BT * 3 * C);
    b.qkvh = k.take(BT * 3 * C);
    b.att = k.take(B * NH * T * T);
    b.atty = k.take(BT * C);
    b.attproj = k.take(BT * C);
    b.residual2 = k.take(BT * C);
    b.ln2 = k.take(BT * C);
    b.ln2_mean = k.take(BT);
    b.ln2_rstd = k.take(BT);
    b.fch = k.take(BT * 4 * C);
    b.fch_gelu = k.take(BT * 4 * C);
    b.fcproj = k.take(BT * C);
    b.residual3 = k.take(BT * C);
  }
  a.lnf = k.take(BT * C);
  a.lnf_mean = k.take(BT);
  a.lnf_rstd = k.take(BT);
  a.logits = k.take(BT * V);
  a.losses = k.take(BT);
  a.lse = k.take(BT);
  return a;
}

BackwardScratch carve_scratch(Carver& k, const GPT2Config& c, int B, int T) {
  const int64_t BT = int64_t{B} * T, C = c.n_embd, V = c.vocab_size;
  BackwardScratch s;
  s.dlogits = k.take(BT * V);
  s.dlnf = k.take(BT * C);
  s.dres_a = k.take(BT * C);
  s.dres_b = k.take(BT * C);
  s.dres2 = k.take(BT * C);
  s.dfcproj = k.take(BT * C);
  s.dfch_gelu = k.take(BT * 4 * C);
  s.dfch = k.take(BT * 4 * C);
  s.dln2 = k.take(BT * C);
  s.dattproj = k.take(BT * C);
  s.datty = k.take(BT * C);
  s.dqkv = k.take(BT * 3 * C);
  s.dln1 = k.take(BT * C);
  return s;
}

}  // namespace

int64_t activation_floats(const GPT2Config& config, int B, int T) {
  check_batch(config, B, T);
  Carver k(nullptr);
  carve_activations(k, config, B, T);
  return k.used();
}

int64_t backward_scratch_floats(const GPT2Config& config, int B, int T) {
  check_batch(config, B, T);
  Carver k(nullptr);
  carve_scratch(k, config, B, T);
  return k.used();
}

Activations bind_activations(float* base, const GPT2Config& config, int B, int T) {
  Carver k(base);
  return carve_activations(k, config, B, T);
}

BackwardScratch bind_backward_scratch(float* base, const GPT2Config& config, int B, int T) {
  Carver k(base);
  return carve_scratch(k, config, B, T);
}

MemoryReport memory_report(const GPT2Config& config, int B, int T) {
  MemoryReport r;
  r.config = config;
  r.B = B;
  r.T = T;
  r.parameters = count_parameters(config);
  r.parameter_bytes = r.parameters * 4;
  r.gradient_bytes = r.parameters * 4;
  r.optimizer_bytes = 2 * r.parameters * 4;
  r.activation_bytes = activation_floats(config, B, T) * 4;
  r.backward_bytes = backward_scratch_floats(config, B, T) * 4;
  return r;
}

std::string MemoryReport::to_string() const {
  auto mib = [](int64_t bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%10.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
    return std::string(buf);
  };
  std::string s =
      cat("memory for ", gpt2::to_string(config), ", B=", B, " T=", T, " (", parameters, " parameters)\n");
  s += cat("  parameters         ", mib(parameter_bytes), "\n");
  s += cat("  gradients          ", mib(gradient_bytes), "\n");
  s += cat("  AdamW moments      ", mib(optimizer_bytes), "\n");
  s += cat("  activations        ", mib(activation_bytes), "\n");
  s += cat("  backward scratch   ", mib(backward_bytes), "\n");
  s += cat("  total, inference   ", mib(inference_bytes()), "\n");
  s += cat("  total, training    ", mib(training_bytes()), "\n");
  return s;
}

}  // namespace gpt2
