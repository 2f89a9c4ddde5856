#include "gpt2.h"

#include <climits>
#include <cmath>

#include "chapters/02_embeddings/embedding.h"
#include "chapters/05_gpt2_model/hf_checkpoint.h"
#include "common/error.h"
#include "common/rng.h"

namespace gpt2 {

// ============================================================================================
// Construction, loading, saving
// ============================================================================================

GPT2::GPT2(const GPT2Config& config, Backend& backend) : GPT2(config, backend, Tensor()) {}

GPT2::GPT2(const GPT2Config& config, Backend& backend, Tensor params)
    : config_(config), backend_(&backend), layout_(config) {
  const int64_t n = layout_.num_parameters();
  params_ = params.numel() == n ? std::move(params) : Tensor({n});
  grads_ = Tensor({n});
  if (backend.host_memory()) {
    // Compute in place on the host buffers: no copies at all.
    w_ = layout_.bind(static_cast<const float*>(params_.data()));
    g_ = layout_.bind(grads_.data());
  } else {
    device_params_ = BackendBuffer(backend, static_cast<size_t>(n) * sizeof(float));
    device_grads_ = BackendBuffer(backend, static_cast<size_t>(n) * sizeof(float));
    w_ = layout_.bind(static_cast<const float*>(device_params_.floats()));
    g_ = layout_.bind(device_grads_.floats());
  }
}

GPT2 GPT2::load(const std::filesystem::path& dir, Backend& backend) {
  HFModel m = read_hf_model_dir(dir);
  return GPT2(m.config, backend, std::move(m.params));
}

void GPT2::save(const std::filesystem::path& dir, const std::filesystem::path& tokenizer_dir) const {
  write_hf_model_dir(dir, config_, params_.span(), tokenizer_dir);
}

void GPT2::read_weights(const std::filesystem::path& dir) {
  HFModel m = read_hf_model_dir(dir);
  GPT2_CHECK(m.config == config_, (dir / "config.json").string(), ": the model there is ",
             to_string(m.config), ", this one is ", to_string(config_));
  params_.copy_from(m.params);
}

void GPT2::init_random(uint64_t seed) {
  // GPT-2 (and nanoGPT, llm.c): weights ~ N(0, 0.02). The projections that write into the
  // residual stream get 0.02 / sqrt(2 L): the stream is a sum of 2L such contributions, and
  // scaling each by 1/sqrt(2L) keeps its variance at initialisation independent of depth.
  Rng rng(seed);
  const float std_residual = 0.02f / std::sqrt(2.0f * static_cast<float>(config_.n_layer));
  for (const ParamSpec& s : layout_.specs()) {
    std::span<float> p = params_.span().subspan(static_cast<size_t>(s.offset), static_cast<size_t>(s.numel));
    if (s.is_matrix()) {
      bool residual = s.name.ends_with("attn.c_proj.weight") || s.name.ends_with("mlp.c_proj.weight");
      rng.fill_normal(p, 0.0f, residual ? std_residual : 0.02f);
    } else if (s.name.ends_with("ln_1.weight") || s.name.ends_with("ln_2.weight") ||
               s.name == "ln_f.weight") {
      std::fill(p.begin(), p.end(), 1.0f);  // LayerNorm gain
    } else {
      std::fill(p.begin(), p.end(), 0.0f);  // biases and LayerNorm shifts
    }
  }
}

void GPT2::upload_params() {
  if (backend_->host_memory()) return;
  backend_->copy_to_device(device_params_.floats(), params_.data(), static_cast<size_t>(params_.numel()) * 4);
}

// ============================================================================================
// Forward
// ============================================================================================

void GPT2::prepare_batch(int B, int T) {
  GPT2_CHECK(B > 0, "forward: batch size B must be positive, got ", B);
  GPT2_CHECK(T > 0 && T <= config_.n_positions, "forward: sequence length T must be in [1, ",
             config_.n_positions, "] (the model's context), got ", T);
  // The ops take int sizes; the largest element count they see is B T max(4C, V).
  const int64_t widest = int64_t{B} * T * std::max<int64_t>(4 * int64_t{config_.n_embd}, config_.vocab_size);
  GPT2_CHECK(widest <= INT_MAX, "forward: B=", B, " T=", T, " is too large a batch for this model");
  if (B == B_ && T == T_) return;
  // A new shape: (re)allocate the arena. The backward scratch follows on the next backward().
  acts_buffer_ = BackendBuffer();
  scratch_buffer_ = BackendBuffer();
  acts_buffer_ =
      BackendBuffer(*backend_, static_cast<size_t>(activation_floats(config_, B, T)) * sizeof(float));
  acts_ = bind_activations(acts_buffer_.floats(), config_, B, T);
  tokens_buffer_ = BackendBuffer(*backend_, static_cast<size_t>(B) * T * sizeof(int));
  targets_buffer_ = BackendBuffer(*backend_, static_cast<size_t>(B) * T * sizeof(int));
  B_ = B;
  T_ = T;
}

void GPT2::ensure_scratch() {
  if (scratch_buffer_.bytes() != 0) return;
  scratch_buffer_ =
      BackendBuffer(*backend_, static_cast<size_t>(backward_scratch_floats(config_, B_, T_)) * sizeof(float));
  scratch_ = bind_backward_scratch(scratch_buffer_.floats(), config_, B_, T_);
}

void GPT2::reserve(int B, int T, bool training) {
  prepare_batch(B, T);
  if (training) ensure_scratch();
}

float GPT2::forward(const int* tokens, const int* targets, int B, int T) {
  prepare_batch(B, T);
  const int BT = B * T, C = config_.n_embd, NH = config_.n_head, V = config_.vocab_size;
  const float eps = config_.layer_norm_epsilon;
  // Validate at the boundary; the ops trust their inputs.
  check_tokens(tokens, static_cast<size_t>(BT), V, "forward: tokens");
  num_targets_ = 0;
  if (targets) {
    for (int i = 0; i < BT; ++i) {
      GPT2_CHECK(targets[i] >= -1 && targets[i] < V, "forward: target ", targets[i], " at index ", i,
                 " is neither in the vocabulary [0, ", V, ") nor -1 (ignore)");
      num_targets_ += targets[i] >= 0;
    }
    GPT2_CHECK(num_targets_ > 0, "forward: every target is -1, there is no loss to compute");
  }
  have_targets_ = targets != nullptr;

  Backend& be = *backend_;
  upload_params();
  // Our own copies: backward() needs the ids after the caller's buffers may be gone.
  be.copy_to_device(tokens_buffer_.ints(), tokens, static_cast<size_t>(BT) * sizeof(int));
  if (targets) be.copy_to_device(targets_buffer_.ints(), targets, static_cast<size_t>(BT) * sizeof(int));
  const int* d_tokens = tokens_buffer_.ints();
  const int* d_targets = targets_buffer_.ints();
  const Activations& a = acts_;

  // x0 = wte[tokens] + wpe[0:T]
  be.encoder_forward(a.encoded, d_tokens, w_.wte, w_.wpe, B, T, C);

  // The blocks (chapter 04's block_forward, written against the backend).
  for (int l = 0; l < config_.n_layer; ++l) {
    const BlockParams<const float>& w = w_.blocks[static_cast<size_t>(l)];
    const LayerActivations& x = a.blocks[static_cast<size_t>(l)];
    const float* residual = l == 0 ? a.encoded : a.blocks[static_cast<size_t>(l) - 1].residual3;
    // residual2 = residual + attn.c_proj(attention(attn.c_attn(ln_1(residual))))
    be.layernorm_forward(x.ln1, x.ln1_mean, x.ln1_rstd, residual, w.ln_1_w, w.ln_1_b, BT, C, eps);
    be.linear_forward(x.qkv, x.ln1, w.c_attn_w, w.c_attn_b, BT, C, 3 * C);
    be.attention_forward(x.atty, x.qkvh, x.att, x.qkv, B, T, C, NH);
    be.linear_forward(x.attproj, x.atty, w.attn_c_proj_w, w.attn_c_proj_b, BT, C, C);
    be.residual_forward(x.residual2, residual, x.attproj, BT * C);
    // residual3 = residual2 + mlp.c_proj(gelu(mlp.c_fc(ln_2(residual2))))
    be.layernorm_forward(x.ln2, x.ln2_mean, x.ln2_rstd, x.residual2, w.ln_2_w, w.ln_2_b, BT, C, eps);
    be.linear_forward(x.fch, x.ln2, w.c_fc_w, w.c_fc_b, BT, C, 4 * C);
    be.gelu_forward(x.fch_gelu, x.fch, BT * 4 * C);
    be.linear_forward(x.fcproj, x.fch_gelu, w.mlp_c_proj_w, w.mlp_c_proj_b, BT, 4 * C, C);
    be.residual_forward(x.residual3, x.residual2, x.fcproj, BT * C);
  }

  // logits = ln_f(x_L) @ wte^T
  const float* last = a.blocks.back().residual3;
  be.layernorm_forward(a.lnf, a.lnf_mean, a.lnf_rstd, last, w_.lnf_w, w_.lnf_b, BT, C, eps);
  be.lm_head_forward(a.logits, a.lnf, w_.wte, BT, C, V);
  if (!targets) return -1.0f;

  // loss = mean of the per-position cross-entropies, summed on the host in a fixed order (in
  // double) so the result does not depend on the backend's threading.
  be.cross_entropy_forward(a.losses, a.lse, a.logits, d_targets, BT, V);
  std::span<const float> losses = this->losses();
  double sum = 0;
  for (float x : losses) sum += x;
  return static_cast<float>(sum / num_targets_);
}

std::span<const float> GPT2::logits() const {
  GPT2_CHECK(B_ > 0, "logits(): call forward() first");
  const size_t n = static_cast<size_t>(B_) * T_ * config_.vocab_size;
  if (backend_->host_memory()) return {acts_.logits, n};
  host_logits_.resize(n);
  backend_->copy_to_host(host_logits_.data(), acts_.logits, n * sizeof(float));
  return host_logits_;
}

std::span<const float> GPT2::losses() const {
  GPT2_CHECK(B_ > 0 && have_targets_, "losses(): call forward() with targets first");
  const size_t n = static_cast<size_t>(B_) * T_;
  if (backend_->host_memory()) return {acts_.losses, n};
  host_losses_.resize(n);
  backend_->copy_to_host(host_losses_.data(), acts_.losses, n * sizeof(float));
  return host_losses_;
}

// ============================================================================================
// Backward
// ============================================================================================

void GPT2::zero_grad() {
  grads_.fill(0.0f);
  if (!backend_->host_memory()) backend_->zero(device_grads_.floats(), static_cast<size_t>(grads_.numel()));
}

void GPT2::backward() {
  GPT2_CHECK(have_targets_, "backward(): needs a forward() with targets first");
  const int B = B_, T = T_, BT = B * T, C = config_.n_embd, NH = config_.n_head, V = config_.vocab_size;
  const size_t btc = static_cast<size_t>(BT) * C;
  Backend& be = *backend_;
  ensure_scratch();
  const Activations& a = acts_;
  const BackwardScratch& s = scratch_;
  // Every backward adds: clear the gradients of the activations first (not the parameters':
  // those accumulate until zero_grad()).
  be.zero(scratch_buffer_.floats(), scratch_buffer_.bytes() / sizeof(float));

  // loss = (1/n) sum_i loss_i  =>  dloss_i = 1/n for each position with a target.
  be.cross_entropy_backward(s.dlogits, a.logits, a.lse, targets_buffer_.ints(), 1.0f / num_targets_, BT, V);
  // The tied head: the first of wte's two gradients.
  be.lm_head_backward(s.dlnf, g_.wte, s.dlogits, a.lnf, w_.wte, BT, C, V);
  float* dout = s.dres_a;  // d(output of the current block)
  float* dinp = s.dres_b;  // d(input of the current block), filled by the block's backward
  be.layernorm_backward(dout, g_.lnf_w, g_.lnf_b, s.dlnf, a.blocks.back().residual3, w_.lnf_w, a.lnf_mean,
                        a.lnf_rstd, BT, C);

  for (int l = config_.n_layer - 1; l >= 0; --l) {
    const BlockParams<const float>& w = w_.blocks[static_cast<size_t>(l)];
    const BlockParams<float>& g = g_.blocks[static_cast<size_t>(l)];
    const LayerActivations& x = a.blocks[static_cast<size_t>(l)];
    const float* residual = l == 0 ? a.encoded : a.blocks[static_cast<size_t>(l) - 1].residual3;
    // This block's activation gradients start at zero (the previous block used the same scratch).
    if (l != config_.n_layer - 1) {
      for (float* p : {s.dres2, s.dfcproj, s.dln2, s.dattproj, s.datty, s.dln1}) be.zero(p, btc);
      be.zero(s.dfch_gelu, 4 * btc);
      be.zero(s.dfch, 4 * btc);
      be.zero(s.dqkv, 3 * btc);
      be.zero(dinp, btc);
    }
    // MLP sub-layer, last op first: residual3 = residual2 + fcproj.
    be.residual_backward(s.dres2, s.dfcproj, dout, BT * C);
    be.linear_backward(s.dfch_gelu, g.mlp_c_proj_w, g.mlp_c_proj_b, s.dfcproj, x.fch_gelu, w.mlp_c_proj_w, BT,
                       4 * C, C);
    be.gelu_backward(s.dfch, x.fch, s.dfch_gelu, BT * 4 * C);
    be.linear_backward(s.dln2, g.c_fc_w, g.c_fc_b, s.dfch, x.ln2, w.c_fc_w, BT, C, 4 * C);
    be.layernorm_backward(s.dres2, g.ln_2_w, g.ln_2_b, s.dln2, x.residual2, w.ln_2_w, x.ln2_mean, x.ln2_rstd,
                          BT, C);
    // Attention sub-layer: residual2 = residual + attproj.
    be.residual_backward(dinp, s.dattproj, s.dres2, BT * C);
    be.linear_backward(s.datty, g.attn_c_proj_w, g.attn_c_proj_b, s.dattproj, x.atty, w.attn_c_proj_w, BT, C,
                       C);
    be.attention_backward(s.dqkv, s.datty, x.qkvh, x.att, B, T, C, NH);
    be.linear_backward(s.dln1, g.c_attn_w, g.c_attn_b, s.dqkv, x.ln1, w.c_attn_w, BT, C, 3 * C);
    be.layernorm_backward(dinp, g.ln_1_w, g.ln_1_b, s.dln1, residual, w.ln_1_w, x.ln1_mean, x.ln1_rstd, BT,
                          C);
    std::swap(dout, dinp);  // this block's input is the output of the block below
  }

  // The embeddings: the second of wte's gradients (the rows of the tokens seen), and wpe's.
  be.encoder_backward(g_.wte, g_.wpe, dout, tokens_buffer_.ints(), B, T, C);

  if (!backend_->host_memory()) {
    backend_->copy_to_host(grads_.data(), device_grads_.floats(), static_cast<size_t>(grads_.numel()) * 4);
  }
}

}  // namespace gpt2
