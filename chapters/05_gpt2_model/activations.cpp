#include "activations.h"

#include <cstdio>

#include "chapters/05_gpt2_model/kv_cache.h"
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

// One block's buffers. With a KV cache the attention needs neither split heads nor weights.
LayerActivations carve_block(Carver& k, const GPT2Config& c, const ActivationPlan& plan) {
  const int64_t BT = int64_t{plan.B} * plan.T, C = c.n_embd, NH = c.n_head, T = plan.T;
  LayerActivations b;
  b.ln_1 = k.take(BT * C);
  b.ln_1_mean = k.take(BT);
  b.ln_1_rstd = k.take(BT);
  b.qkv = k.take(BT * 3 * C);
  b.qkvh = plan.kv_cache ? nullptr : k.take(BT * 3 * C);
  b.att = plan.kv_cache ? nullptr : k.take(plan.B * NH * T * T);
  b.atty = k.take(BT * C);
  b.attn_proj = k.take(BT * C);
  b.res_1 = k.take(BT * C);
  b.ln_2 = k.take(BT * C);
  b.ln_2_mean = k.take(BT);
  b.ln_2_rstd = k.take(BT);
  b.fch = k.take(BT * 4 * C);
  b.fch_gelu = k.take(BT * 4 * C);
  b.mlp_proj = k.take(BT * C);
  b.out = k.take(BT * C);
  return b;
}

Activations carve_activations(Carver& k, const GPT2Config& c, const ActivationPlan& plan) {
  const int64_t BT = int64_t{plan.B} * plan.T, C = c.n_embd, V = c.vocab_size, R = plan.logit_rows();
  Activations a;
  a.encoded = k.take(BT * C);
  if (plan.every_block) {
    for (int l = 0; l < c.n_layer; ++l) a.blocks.push_back(carve_block(k, c, plan));
  } else {
    // Inference: block l + 1 reads only block l's `out`, and writes it only after reading it (its
    // res_1 is a separate buffer), so every block can use the same buffers.
    a.blocks.assign(static_cast<size_t>(c.n_layer), carve_block(k, c, plan));
  }
  a.final_rows = plan.all_logits ? nullptr : k.take(int64_t{plan.B} * C);
  a.lnf = k.take(R * C);
  a.lnf_mean = k.take(R);
  a.lnf_rstd = k.take(R);
  a.logits = plan.logits ? k.take(R * V) : nullptr;
  a.losses = k.take(R);
  a.lse = k.take(R);
  return a;
}

BackwardScratch carve_scratch(Carver& k, const GPT2Config& c, int B, int T) {
  const int64_t BT = int64_t{B} * T, C = c.n_embd, V = c.vocab_size;
  BackwardScratch s;
  s.dlogits = k.take(BT * V);
  s.dlnf = k.take(BT * C);
  s.dres_a = k.take(BT * C);
  s.dres_b = k.take(BT * C);
  s.dres_1 = k.take(BT * C);
  s.dmlp_proj = k.take(BT * C);
  s.dfch_gelu = k.take(BT * 4 * C);
  s.dfch = k.take(BT * 4 * C);
  s.dln_2 = k.take(BT * C);
  s.dattn_proj = k.take(BT * C);
  s.datty = k.take(BT * C);
  s.dqkv = k.take(BT * 3 * C);
  s.dln_1 = k.take(BT * C);
  s.ddropout = c.dropout.any() ? k.take(BT * C) : nullptr;
  s.dfrozen = k.take(2 * C);
  return s;
}

}  // namespace

int64_t activation_floats(const GPT2Config& config, const ActivationPlan& plan) {
  check_batch(config, plan.B, plan.T);
  Carver k(nullptr);
  carve_activations(k, config, plan);
  return k.used();
}

int64_t backward_scratch_floats(const GPT2Config& config, int B, int T) {
  check_batch(config, B, T);
  Carver k(nullptr);
  carve_scratch(k, config, B, T);
  return k.used();
}

Activations bind_activations(float* base, const GPT2Config& config, const ActivationPlan& plan) {
  Carver k(base);
  return carve_activations(k, config, plan);
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
  r.activation_bytes = activation_floats(config, ActivationPlan::training(B, T)) * 4;
  r.backward_bytes = backward_scratch_floats(config, B, T) * 4;
  r.kv_cache_bytes = kv_cache_bytes(config, B, T);
  r.inference_activation_bytes = activation_floats(config, ActivationPlan::generation(B, T)) * 4;
  return r;
}

std::string MemoryReport::to_string() const {
  auto mib = [](int64_t bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%10.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
    return std::string(buf);
  };
  const std::string none = "             -";
  std::string s =
      cat("memory for ", gpt2::to_string(config), ", B=", B, " T=", T, " (", parameters, " parameters)\n");
  s += cat("                           training    generation\n");
  s += cat("  parameters         ", mib(parameter_bytes), mib(parameter_bytes), "\n");
  s += cat("  gradients          ", mib(gradient_bytes), none, "\n");
  s += cat("  AdamW moments      ", mib(optimizer_bytes), none, "\n");
  s += cat("  activations        ", mib(activation_bytes), mib(inference_activation_bytes), "\n");
  s += cat("  backward scratch   ", mib(backward_bytes), none, "\n");
  s += cat("  KV cache           ", none, mib(kv_cache_bytes), "\n");
  s += cat("  total              ", mib(training_bytes()), mib(inference_bytes()), "\n");
  return s;
}

}  // namespace gpt2
