#include "gpt2.h"

#include <climits>
#include <cmath>
#include <cstring>
#include <optional>

#include "chapters/02_embeddings/embedding.h"
#include "chapters/05_gpt2_model/dropout.h"
#include "chapters/05_gpt2_model/hf_checkpoint.h"
#include "common/error.h"
#include "common/rng.h"

namespace gpt2 {

// ============================================================================================
// Construction, loading, saving
// ============================================================================================

GPT2::GPT2(const GPT2Config& config, Backend& backend)
    : config_(config), backend_(&backend), layout_(config) {
  // Backend::allocate returns zeroed memory: every parameter starts at 0.
  params_ = BackendBuffer(backend, n_params() * sizeof(float));
  bind_weights();
}

void GPT2::bind_weights() {
  w_ = layout_.bind(static_cast<const float*>(params_.floats()));
  g_ = ModelParams<float>{};
  if (grads_.bytes() == 0) return;
  // The gradient of the parameter at `offset`, or null when it is frozen (before train_from_).
  float* g = grads_.floats();
  auto at = [&](const std::string& name) -> float* {
    const int64_t offset = layout_.find(name).offset;
    return offset >= train_from_ ? g + (offset - train_from_) : nullptr;
  };
  g_.wte = at("wte.weight");
  g_.wpe = at("wpe.weight");
  for (int l = 0; l < config_.n_layer; ++l) {
    float* first = at(cat("h.", l, ".ln_1.weight"));  // a block trains whole or not at all
    g_.blocks.push_back(first ? block_params_view(first, config_.n_embd) : BlockParams<float>{});
  }
  g_.lnf_w = at("ln_f.weight");
  g_.lnf_b = at("ln_f.bias");
}

void GPT2::allocate_grads() {
  grads_ = BackendBuffer();
  grads_ = BackendBuffer(*backend_, std::max<size_t>(n_trainable(), 1) * sizeof(float));  // zeroed
  bind_weights();
}

int64_t GPT2::attach_parameters(int64_t n) {
  GPT2_CHECK(n > 0, "attach_parameters: n must be positive, got ", n);
  const size_t old_total = n_params() + n_attached_;
  BackendBuffer grown(*backend_, (old_total + static_cast<size_t>(n)) * sizeof(float));  // zeroed
  backend_->copy(grown.floats(), params_.floats(), old_total * sizeof(float));
  params_ = std::move(grown);
  const int64_t offset = static_cast<int64_t>(n_attached_);
  n_attached_ += static_cast<size_t>(n);
  if (grads_.bytes()) {
    allocate_grads();
  } else {
    bind_weights();
  }
  return offset;
}

std::span<float> GPT2::attached_params() {
  return {params_.floats() + n_params(), n_attached_};
}

std::span<float> GPT2::attached_grads() {
  if (grads_.bytes() == 0) return {};
  return {grads_.floats() + (n_params() - static_cast<size_t>(train_from_)), n_attached_};
}

void GPT2::set_linear_adapter(LinearAdapter* adapter) {
  adapter_ = adapter;
}

void GPT2::set_trainable_from(int64_t first) {
  bool valid = first == 0 || first == layout_.find("ln_f.weight").offset || first == layout_.num_parameters();
  for (int l = 0; l < config_.n_layer; ++l)
    valid = valid || first == layout_.find(cat("h.", l, ".ln_1.weight")).offset;
  GPT2_CHECK(valid, "set_trainable_from: ", first,
             " is not where the embeddings, a block, ln_f or the attached layers begin");
  train_from_ = first;
  if (grads_.bytes()) allocate_grads();
  backward_ready_ = false;
}

std::span<float> GPT2::trainable_params() {
  return {params_.floats() + train_from_, n_trainable()};
}

int GPT2::lowest_backward_block() const {
  if (grads_.bytes() && g_.wte) return 0;  // the embeddings train: every block's backward runs
  int lowest = config_.n_layer;
  for (int l = config_.n_layer - 1; l >= 0; --l) {
    bool needed = grads_.bytes() && g_.blocks[static_cast<size_t>(l)].ln_1_w != nullptr;
    for (BlockLinear which :
         {BlockLinear::attn_c_attn, BlockLinear::attn_c_proj, BlockLinear::mlp_c_fc, BlockLinear::mlp_c_proj})
      needed = needed || (adapter_ && adapter_->adapts(l, which));
    if (needed) lowest = l;
  }
  return lowest;
}

GPT2 GPT2::load(const std::filesystem::path& dir, Backend& backend) {
  if (backend.host_memory()) {
    // Read the weights straight into the backend's buffer: no second copy of them.
    std::optional<GPT2> model;
    read_hf_model_dir(dir, [&](const GPT2Config& config) {
      model.emplace(config, backend);
      return model->params();
    });
    return std::move(*model);
  }
  HFModel m = read_hf_model_dir(dir);
  GPT2 model(m.config, backend);
  model.set_params(m.params.span());  // uploaded once
  return model;
}

void GPT2::save(const std::filesystem::path& dir, const std::filesystem::path& tokenizer_dir) const {
  if (backend_->host_memory()) {
    write_hf_model_dir(dir, config_, params(), tokenizer_dir);
  } else {
    write_hf_model_dir(dir, config_, params_to_host().span(), tokenizer_dir);
  }
}

void GPT2::read_weights(const std::filesystem::path& dir) {
  HFModel m = read_hf_model_dir(dir);
  GPT2_CHECK(m.config.same_shape(config_), (dir / "config.json").string(), ": the model there is ",
             to_string(m.config), ", this one is ", to_string(config_));
  set_params(m.params.span());
}

void GPT2::init_random(uint64_t seed) {
  // GPT-2 (and nanoGPT, llm.c): weights ~ N(0, 0.02). The projections that write into the
  // residual stream get 0.02 / sqrt(2 L): the stream is a sum of 2L such contributions, and
  // scaling each by 1/sqrt(2L) keeps its variance at initialisation independent of depth.
  // Drawn on the host (gpt2::Rng: the same numbers everywhere), then uploaded once.
  Tensor host({layout_.num_parameters()});
  Rng rng(seed);
  const float std_residual = 0.02f / std::sqrt(2.0f * static_cast<float>(config_.n_layer));
  for (const ParamSpec& s : layout_.specs()) {
    std::span<float> p = host.span().subspan(static_cast<size_t>(s.offset), static_cast<size_t>(s.numel));
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
  set_params(host.span());
}

void GPT2::set_params(std::span<const float> values) {
  GPT2_CHECK(values.size() == n_params(), "set_params: got ", values.size(), " floats, the model has ",
             n_params(), " parameters");
  backend_->copy_to_device(params_.floats(), values.data(), n_params() * sizeof(float));
}

void GPT2::set_dropout(const DropoutConfig& dropout) {
  dropout.validate("set_dropout");
  config_.dropout = dropout;
}

void GPT2::set_dropout_pass(uint64_t seed, uint64_t pass) {
  dropout_seed_ = seed;
  dropout_pass_ = pass;
}

void GPT2::set_mode(Mode mode) {
  if (mode == Mode::training && grads_.bytes() == 0) allocate_grads();
  mode_ = mode;
  backward_ready_ = false;  // what the last forward kept was for the old mode
}

Tensor GPT2::params_to_host() const {
  return Tensor::from({layout_.num_parameters()}, to_host(*backend_, params_.floats(), n_params()));
}

Tensor GPT2::grads_to_host() const {
  GPT2_CHECK(grads_.bytes() != 0, "grads_to_host(): the model has no gradients outside training mode");
  return Tensor::from({static_cast<int64_t>(n_trainable())},
                      to_host(*backend_, grads_.floats(), n_trainable()));
}

Tensor GPT2::param(std::string_view name) const {
  const ParamSpec& s = layout_.find(name);
  return Tensor::from(s.shape, to_host(*backend_, params_.floats() + s.offset, static_cast<size_t>(s.numel)));
}

Tensor GPT2::grad(std::string_view name) const {
  GPT2_CHECK(grads_.bytes() != 0, "grad(", name, "): the model has no gradients outside training mode");
  const ParamSpec& s = layout_.find(name);
  GPT2_CHECK(s.offset >= train_from_, "grad(", name, "): the parameter is frozen (set_trainable_from)");
  return Tensor::from(
      s.shape, to_host(*backend_, grads_.floats() + (s.offset - train_from_), static_cast<size_t>(s.numel)));
}

// ============================================================================================
// Forward
// ============================================================================================

void GPT2::prepare(const ActivationPlan& plan) {
  GPT2_CHECK(plan.B > 0, "forward: batch size B must be positive, got ", plan.B);
  GPT2_CHECK(plan.T > 0 && plan.T <= config_.n_positions, "forward: sequence length T must be in [1, ",
             config_.n_positions, "] (the model's context), got ", plan.T);
  // The ops take int sizes; the largest element count they see is B T max(4C, V).
  const int64_t widest =
      int64_t{plan.B} * plan.T * std::max<int64_t>(4 * int64_t{config_.n_embd}, config_.vocab_size);
  GPT2_CHECK(widest <= INT_MAX, "forward: B=", plan.B, " T=", plan.T, " is too large a batch for this model");
  // The arena only grows: a buffer that held a bigger pass holds this one too.
  const size_t floats = static_cast<size_t>(activation_floats(config_, plan));
  if (acts_buffer_.bytes() < floats * sizeof(float)) {
    acts_buffer_ = BackendBuffer();  // free the old one first
    acts_buffer_ = BackendBuffer(*backend_, floats * sizeof(float));
  }
  const size_t ids = static_cast<size_t>(plan.B) * plan.T * sizeof(int);
  if (tokens_buffer_.bytes() < ids) {
    tokens_buffer_ = BackendBuffer(*backend_, ids);
    targets_buffer_ = BackendBuffer(*backend_, ids);
  }
  acts_ = bind_activations(acts_buffer_.floats(), config_, plan);
  plan_ = plan;
  B_ = plan.B;
  T_ = plan.T;
}

void GPT2::ensure_scratch() {
  // The scratch has dropout's buffer when the model drops (or its last forward pass did).
  const bool with_dropout = config_.dropout.any() || last_drop_.any();
  if (scratch_B_ == B_ && scratch_T_ == T_ && scratch_dropout_ == with_dropout) return;
  GPT2Config shape = config_;
  shape.dropout = config_.dropout.any() ? config_.dropout : last_drop_;
  const size_t floats = static_cast<size_t>(backward_scratch_floats(shape, B_, T_));
  if (scratch_buffer_.bytes() < floats * sizeof(float)) {
    scratch_buffer_ = BackendBuffer();
    scratch_buffer_ = BackendBuffer(*backend_, floats * sizeof(float));
  }
  scratch_ = bind_backward_scratch(scratch_buffer_.floats(), shape, B_, T_);
  scratch_B_ = B_;
  scratch_T_ = T_;
  scratch_dropout_ = with_dropout;
}

void GPT2::reserve(int B, int T) {
  const bool keep = mode_ != Mode::inference;
  prepare({B, T, keep, false, true});
  if (mode_ == Mode::training) ensure_scratch();
}

void GPT2::reserve(const KVCache& cache, int T) {
  prepare(ActivationPlan::generation(cache.batch(), T));
}

float GPT2::forward(const int* tokens, const int* targets, int B, int T) {
  return run_forward(tokens, targets, B, T, nullptr, true);
}

void GPT2::forward_hidden(const int* tokens, int B, int T) {
  run_forward(tokens, nullptr, B, T, nullptr, true, /*head=*/false);
}

std::span<const float> GPT2::forward(KVCache& cache, const int* tokens, int B, int T, bool all_logits) {
  GPT2_CHECK(cache.n_layer() == config_.n_layer && cache.n_head() == config_.n_head &&
                 cache.head_size() == config_.head_size(),
             "forward: the KV cache was made for another model (L=", cache.n_layer(), " NH=", cache.n_head(),
             " HS=", cache.head_size(), ", this one is ", to_string(config_), ")");
  GPT2_CHECK(&cache.backend() == backend_, "forward: the KV cache is in the memory of backend '",
             cache.backend().name(), "', the model computes on '", backend_->name(), "'");
  GPT2_CHECK(B == cache.batch(), "forward: the KV cache holds ", cache.batch(), " sequence(s), got B=", B);
  GPT2_CHECK(T > 0, "forward: no tokens to run");
  GPT2_CHECK(cache.size() + T <= cache.capacity(), "forward: ", cache.size(), " cached + ", T,
             " new positions exceed the context of ", cache.capacity(), " positions");
  run_forward(tokens, nullptr, B, T, &cache, all_logits);
  return logits();
}

void GPT2::linear(int l, BlockLinear which, float* out, const float* inp, const float* w, const float* b,
                  int N, int C, int OC) {
  backend_->linear_forward(out, inp, w, b, N, C, OC);
  if (adapter_ && adapter_->adapts(l, which)) adapter_->forward(l, which, out, inp, N, C, OC);
}

void GPT2::linear_backward(int l, BlockLinear which, float* dinp, float* dw, float* db, const float* dout,
                           const float* inp, const float* w, int N, int C, int OC) {
  backend_->linear_backward(dinp, dw, db, dout, inp, w, N, C, OC);
  if (adapter_ && adapter_->adapts(l, which)) adapter_->backward(l, which, dinp, dout, inp, N, C, OC);
}

float GPT2::run_forward(const int* tokens, const int* targets, int B, int T, KVCache* cache, bool all_logits,
                        bool head) {
  const int pos0 = cache ? cache->size() : 0;  // the position of the first new token
  // Training and looking inside keep every block's activations; inference reuses one block's.
  prepare({B, T, mode_ != Mode::inference && !cache, cache != nullptr, all_logits, head});
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
  backward_ready_ = false;
  // Dropout acts in training mode only, with this pass's masks (dropout.h); p = 0 skips a site.
  const bool dropping = mode_ == Mode::training && !cache && config_.dropout.any();
  last_drop_ = dropping ? config_.dropout : DropoutConfig{};
  if (dropping) last_pass_ = dropout_pass_++;
  const DropoutConfig& drop = last_drop_;
  auto dropout = [&](float* x, float p, uint64_t site, size_t n) {
    if (p > 0) backend_->dropout_forward(x, x, static_cast<int>(n), p, dropout_site_key(site));
  };

  Backend& be = *backend_;
  // The only data that goes to the backend: the token ids (our own copies: backward() needs them
  // after the caller's buffers may be gone).
  be.copy_to_device(tokens_buffer_.ints(), tokens, static_cast<size_t>(BT) * sizeof(int));
  if (targets) be.copy_to_device(targets_buffer_.ints(), targets, static_cast<size_t>(BT) * sizeof(int));
  const int* d_tokens = tokens_buffer_.ints();
  const int* d_targets = targets_buffer_.ints();
  const Activations& a = acts_;

  // x0 = wte[tokens] + wpe[pos0 : pos0 + T]: chapter 02's encoder with the position table
  // starting pos0 rows down.
  be.encoder_forward(a.encoded, d_tokens, w_.wte, w_.wpe + static_cast<size_t>(pos0) * C, B, T, C);
  dropout(a.encoded, drop.embd_pdrop, 0, static_cast<size_t>(BT) * C);

  // The blocks (chapter 04's block_forward, written against the backend).
  for (int l = 0; l < config_.n_layer; ++l) {
    const BlockParams<const float>& w = w_.blocks[static_cast<size_t>(l)];
    const LayerActivations& x = a.blocks[static_cast<size_t>(l)];
    const float* inp = l == 0 ? a.encoded : a.blocks[static_cast<size_t>(l) - 1].out;
    // res_1 = inp + attn.c_proj(attention(attn.c_attn(ln_1(inp))))
    be.layernorm_forward(x.ln_1, x.ln_1_mean, x.ln_1_rstd, inp, w.ln_1_w, w.ln_1_b, BT, C, eps);
    linear(l, BlockLinear::attn_c_attn, x.qkv, x.ln_1, w.c_attn_w, w.c_attn_b, BT, C, 3 * C);
    if (cache) {
      // The new keys and values go into the cache; the queries attend over all cached positions.
      be.attention_forward_cached(x.atty, cache->keys(l), cache->values(l), x.qkv, B, T, pos0,
                                  cache->capacity(), C, NH);
    } else if (drop.attn_pdrop > 0) {
      be.attention_forward_dropout(x.atty, x.qkvh, x.att, x.qkv, B, T, C, NH, drop.attn_pdrop,
                                   dropout_site_key(dropout_site_index(l, DropoutSite::attention_weights)));
    } else {
      be.attention_forward(x.atty, x.qkvh, x.att, x.qkv, B, T, C, NH);
    }
    linear(l, BlockLinear::attn_c_proj, x.attn_proj, x.atty, w.attn_c_proj_w, w.attn_c_proj_b, BT, C, C);
    dropout(x.attn_proj, drop.resid_pdrop, dropout_site_index(l, DropoutSite::attention_output),
            static_cast<size_t>(BT) * C);
    be.residual_forward(x.res_1, inp, x.attn_proj, BT * C);
    // out = res_1 + mlp.c_proj(gelu(mlp.c_fc(ln_2(res_1))))
    be.layernorm_forward(x.ln_2, x.ln_2_mean, x.ln_2_rstd, x.res_1, w.ln_2_w, w.ln_2_b, BT, C, eps);
    linear(l, BlockLinear::mlp_c_fc, x.fch, x.ln_2, w.c_fc_w, w.c_fc_b, BT, C, 4 * C);
    be.gelu_forward(x.fch_gelu, x.fch, BT * 4 * C);
    linear(l, BlockLinear::mlp_c_proj, x.mlp_proj, x.fch_gelu, w.mlp_c_proj_w, w.mlp_c_proj_b, BT, 4 * C, C);
    dropout(x.mlp_proj, drop.resid_pdrop, dropout_site_index(l, DropoutSite::mlp_output),
            static_cast<size_t>(BT) * C);
    be.residual_forward(x.out, x.res_1, x.mlp_proj, BT * C);
  }
  if (cache) cache->size_ = pos0 + T;  // the new positions' keys and values are in the cache

  // logits = ln_f(x_L) @ wte^T, for every position or for the last position of each sequence
  // (the head is the largest single product of the model: generation needs one row of it).
  const float* last = a.blocks.back().out;
  int rows = BT;
  if (!all_logits && T > 1) {
    for (int b = 0; b < B; ++b) {
      be.copy(a.final_rows + static_cast<size_t>(b) * C, last + (static_cast<size_t>(b) * T + T - 1) * C,
              static_cast<size_t>(C) * sizeof(float));
    }
    last = a.final_rows;
  }
  if (!all_logits) rows = B;
  be.layernorm_forward(a.lnf, a.lnf_mean, a.lnf_rstd, last, w_.lnf_w, w_.lnf_b, rows, C, eps);
  backward_ready_ = mode_ == Mode::training && !cache;
  if (!head) return -1.0f;  // forward_hidden: ln_f's output is what the caller wants
  be.lm_head_forward(a.logits, a.lnf, w_.wte, rows, C, V);
  if (!targets) return -1.0f;

  // loss = mean of the per-position cross-entropies. The sum is the backend's (in double, in a
  // fixed order): one number comes back, and it does not depend on the backend's threading.
  be.cross_entropy_forward(a.losses, a.lse, a.logits, d_targets, BT, V);
  return static_cast<float>(be.sum(a.losses, static_cast<size_t>(BT)) / num_targets_);
}

std::span<const float> GPT2::logits() const {
  GPT2_CHECK(B_ > 0, "logits(): call forward() first");
  GPT2_CHECK(plan_.logits, "logits(): the last pass was forward_hidden(), which computes no logits");
  const size_t n = static_cast<size_t>(plan_.logit_rows()) * config_.vocab_size;
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
  GPT2_CHECK(grads_.bytes() != 0,
             "zero_grad(): the model has no gradients; call set_mode(GPT2::Mode::training) first");
  backend_->zero(grads_.floats(), n_trainable());
}

void GPT2::backward(float loss_weight) {
  GPT2_CHECK(have_targets_, "backward(): needs a forward() with targets first");
  GPT2_CHECK(backward_ready_,
             "backward(): the last forward() ran outside training mode and kept nothing for the backward "
             "pass; call set_mode(GPT2::Mode::training) before forward()");
  const int BT = B_ * T_, C = config_.n_embd, V = config_.vocab_size;
  Backend& be = *backend_;
  ensure_scratch();
  const Activations& a = acts_;
  const BackwardScratch& s = scratch_;
  // loss = (1/n) sum_i loss_i  =>  dloss_i = 1/n for each position with a target (times the weight).
  be.zero(s.dlogits, static_cast<size_t>(BT) * V);
  be.zero(s.dlnf, static_cast<size_t>(BT) * C);
  be.cross_entropy_backward(s.dlogits, a.logits, a.lse, targets_buffer_.ints(), loss_weight / num_targets_,
                            BT, V);
  // The tied head: the first of wte's two gradients, and the gradient of the final hidden state.
  be.lm_head_backward(s.dlnf, g_.wte, s.dlogits, a.lnf, w_.wte, BT, C, V);
  backward_from_hidden(s.dlnf);
}

uint64_t GPT2::dropout_site_key(uint64_t site) const {
  return dropout_key(dropout_seed_, last_pass_, site);
}

const float* GPT2::undo_dropout(const float* d, float p, uint64_t site, size_t n) {
  if (p == 0) return d;
  // d(before) = keep * d(after) / (1 - p), added into a zeroed buffer (every backward adds).
  backend_->zero(scratch_.ddropout, n);
  backend_->dropout_backward(scratch_.ddropout, d, static_cast<int>(n), p, dropout_site_key(site));
  return scratch_.ddropout;
}

void GPT2::backward_from_hidden(const float* dhidden) {
  GPT2_CHECK(backward_ready_,
             "backward: the last forward() ran outside training mode and kept nothing for the backward "
             "pass; call set_mode(GPT2::Mode::training) before forward()");
  const int B = B_, T = T_, BT = B * T, C = config_.n_embd, NH = config_.n_head;
  const size_t btc = static_cast<size_t>(BT) * C;
  Backend& be = *backend_;
  ensure_scratch();
  const Activations& a = acts_;
  const BackwardScratch& s = scratch_;
  float* dout = s.dres_a;  // d(output of the current block)
  float* dinp = s.dres_b;  // d(input of the current block), filled by the block's backward
  // Every backward adds: this block's activation gradients start at zero (not the parameters':
  // those accumulate until zero_grad()).
  be.zero(dout, btc);
  // A frozen LayerNorm's parameter gradients go to a scratch buffer that nothing reads.
  auto or_frozen = [&](float* grad, int which) { return grad ? grad : s.dfrozen + which * C; };
  be.layernorm_backward(dout, or_frozen(g_.lnf_w, 0), or_frozen(g_.lnf_b, 1), dhidden, a.blocks.back().out,
                        w_.lnf_w, a.lnf_mean, a.lnf_rstd, BT, C);
  grads_ready_from(g_.lnf_w);  // ln_f is done (and nothing after it in the buffer)

  // Down to the lowest block that trains or is adapted: nothing below it needs a gradient.
  const int lowest = lowest_backward_block();
  for (int l = config_.n_layer - 1; l >= lowest; --l) {
    const BlockParams<const float>& w = w_.blocks[static_cast<size_t>(l)];
    const BlockParams<float>& g = g_.blocks[static_cast<size_t>(l)];  // null pointers when frozen
    const LayerActivations& x = a.blocks[static_cast<size_t>(l)];
    const float* inp = l == 0 ? a.encoded : a.blocks[static_cast<size_t>(l) - 1].out;
    for (float* p : {s.dres_1, s.dmlp_proj, s.dln_2, s.dattn_proj, s.datty, s.dln_1, dinp}) be.zero(p, btc);
    be.zero(s.dfch_gelu, 4 * btc);
    be.zero(s.dfch, 4 * btc);
    be.zero(s.dqkv, 3 * btc);
    const DropoutConfig& drop = last_drop_;  // the forward's probabilities (all 0: no dropout)
    // MLP sub-layer, last op first: out = res_1 + dropout(mlp_proj).
    be.residual_backward(s.dres_1, s.dmlp_proj, dout, BT * C);
    const float* dmlp_proj =
        undo_dropout(s.dmlp_proj, drop.resid_pdrop, dropout_site_index(l, DropoutSite::mlp_output), btc);
    linear_backward(l, BlockLinear::mlp_c_proj, s.dfch_gelu, g.mlp_c_proj_w, g.mlp_c_proj_b, dmlp_proj,
                    x.fch_gelu, w.mlp_c_proj_w, BT, 4 * C, C);
    be.gelu_backward(s.dfch, x.fch, s.dfch_gelu, BT * 4 * C);
    linear_backward(l, BlockLinear::mlp_c_fc, s.dln_2, g.c_fc_w, g.c_fc_b, s.dfch, x.ln_2, w.c_fc_w, BT, C,
                    4 * C);
    be.layernorm_backward(s.dres_1, or_frozen(g.ln_2_w, 0), or_frozen(g.ln_2_b, 1), s.dln_2, x.res_1,
                          w.ln_2_w, x.ln_2_mean, x.ln_2_rstd, BT, C);
    // Attention sub-layer: res_1 = inp + dropout(attn_proj).
    be.residual_backward(dinp, s.dattn_proj, s.dres_1, BT * C);
    const float* dattn_proj = undo_dropout(s.dattn_proj, drop.resid_pdrop,
                                           dropout_site_index(l, DropoutSite::attention_output), btc);
    linear_backward(l, BlockLinear::attn_c_proj, s.datty, g.attn_c_proj_w, g.attn_c_proj_b, dattn_proj,
                    x.atty, w.attn_c_proj_w, BT, C, C);
    if (drop.attn_pdrop > 0) {
      be.attention_backward_dropout(s.dqkv, s.datty, x.qkvh, x.att, B, T, C, NH, drop.attn_pdrop,
                                    dropout_site_key(dropout_site_index(l, DropoutSite::attention_weights)));
    } else {
      be.attention_backward(s.dqkv, s.datty, x.qkvh, x.att, B, T, C, NH);
    }
    linear_backward(l, BlockLinear::attn_c_attn, s.dln_1, g.c_attn_w, g.c_attn_b, s.dqkv, x.ln_1, w.c_attn_w,
                    BT, C, 3 * C);
    be.layernorm_backward(dinp, or_frozen(g.ln_1_w, 0), or_frozen(g.ln_1_b, 1), s.dln_1, inp, w.ln_1_w,
                          x.ln_1_mean, x.ln_1_rstd, BT, C);
    std::swap(dout, dinp);       // this block's input is the output of the block below
    grads_ready_from(g.ln_1_w);  // block l is done: from its first tensor to the end
  }
  if (!g_.wte) {  // the embeddings are frozen: everything that trains is done
    grads_ready_from(grads_.floats());
    return;
  }

  // The embeddings (x0 = dropout(wte[tokens] + wpe)): the second of wte's gradients (the rows of
  // the tokens seen), and wpe's.
  const float* dencoded = undo_dropout(dout, last_drop_.embd_pdrop, 0, btc);
  be.encoder_backward(g_.wte, g_.wpe, dencoded, tokens_buffer_.ints(), B, T, C);
  grads_ready_from(g_.wte);  // all of it
}

void GPT2::set_grad_ready_callback(std::function<void(const GradsReady&)> callback) {
  grad_ready_ = std::move(callback);
}

void GPT2::grads_ready_from(const float* first) {
  // A frozen tensor (null) finishes nothing. The attached layers lie at the end of the buffer but
  // get their gradients all along backward (LoRA's in every block it adapts): with any attached,
  // the tail is final only once the whole backward is done, at the start of the buffer.
  if (!grad_ready_ || first == nullptr || (n_attached_ > 0 && first != grads_.floats())) return;
  GradsReady ready;
  ready.first_ready = static_cast<size_t>(first - grads_.floats());
  // Until the embeddings' backward, wte (if it trains) is final except the rows of the input
  // tokens: the head's part is complete (backward() runs it first; a classification head has
  // none), and encoder_backward adds to those rows only.
  if (g_.wte != nullptr && first > g_.wte) {
    ready.table = static_cast<size_t>(g_.wte - grads_.floats());
    ready.table_rows = static_cast<size_t>(config_.vocab_size);
    ready.row_floats = static_cast<size_t>(config_.n_embd);
  }
  grad_ready_(ready);
}

}  // namespace gpt2
