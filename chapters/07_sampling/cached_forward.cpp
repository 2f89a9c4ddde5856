// GPT-2's forward pass over new tokens with a KV cache: see cached_forward.h.
#include "chapters/07_sampling/cached_forward.h"

#include "chapters/02_embeddings/embedding.h"
#include "chapters/07_sampling/matvec.h"
#include "common/error.h"

namespace gpt2 {

// The cache's capacity: max_T if it is in (0, n_positions), else the whole context.
static int cache_positions(const GPT2Config& config, int max_T) {
  return max_T > 0 && max_T < config.n_positions ? max_T : config.n_positions;
}

CachedGPT2::CachedGPT2(const GPT2Config& config, const float* params, Backend& backend, int max_T)
    : config_(config),
      w_(ParameterLayout(config).bind(params)),
      backend_(&backend),
      cache_(config.n_layer, config.n_head, config.head_size(), cache_positions(config, max_T)) {
  GPT2_CHECK(backend.host_memory(), "CachedGPT2: backend '", backend.name(),
             "' does not compute in host memory; pass a CPU backend");
}

// A device backend's model keeps its parameters on the host too (params()), so the cached path
// runs there on a CpuBackend of its own.
CachedGPT2::CachedGPT2(const GPT2& model, int max_T)
    : config_(model.config()),
      w_(model.layout().bind(model.params().data())),
      fallback_(model.backend().host_memory() ? nullptr : std::make_unique<CpuBackend>()),
      backend_(fallback_ ? fallback_.get() : &model.backend()),
      cache_(config_.n_layer, config_.n_head, config_.head_size(), cache_positions(config_, max_T)) {}

void CachedGPT2::linear(float* out, const float* inp, const float* weight, const float* bias, int n, int C,
                        int OC) {
  if (n == 1 && use_matvec_) {
    matvec_conv1d(out, inp, weight, bias, C, OC);
  } else {
    backend_->linear_forward(out, inp, weight, bias, n, C, OC);
  }
}

// Resizes a scratch vector if it is too small (it never shrinks: steps after the prefill reuse it).
static float* scratch(std::vector<float>& v, size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

std::span<const float> CachedGPT2::forward(std::span<const int> tokens, bool all_logits) {
  const int n = static_cast<int>(tokens.size());
  const int p0 = cache_.size();  // position of the first new token
  const int C = config_.n_embd, NH = config_.n_head, HS = config_.head_size(), V = config_.vocab_size;
  const float eps = config_.layer_norm_epsilon;
  GPT2_CHECK(n > 0, "CachedGPT2::forward: no tokens to run");
  GPT2_CHECK(p0 + n <= cache_.capacity(), "CachedGPT2::forward: ", p0, " cached + ", n,
             " new positions exceed the context of ", cache_.capacity(), " positions");
  check_tokens(tokens.data(), tokens.size(), V, "CachedGPT2::forward");
  const size_t nC = static_cast<size_t>(n) * C;

  float* x = scratch(x_, nC);  // (n, C) the residual stream of the new positions
  float* ln = scratch(ln_, nC);
  float* mean = scratch(mean_, n);
  float* rstd = scratch(rstd_, n);
  float* qkv = scratch(qkv_, 3 * nC);
  float* atty = scratch(atty_, nC);
  float* proj = scratch(proj_, nC);
  float* fch = scratch(fch_, 4 * nC);
  const int keys_max = p0 + n;  // the last new position attends to this many keys
  float* scores = scratch(scores_, static_cast<size_t>(n) * NH * keys_max);

  // x = wte[tokens] + wpe[p0 + i]: chapter 02's encoder with the position table shifted by p0 rows.
  backend_->encoder_forward(x, tokens.data(), w_.wte, w_.wpe + static_cast<size_t>(p0) * C, 1, n, C);

  for (int l = 0; l < config_.n_layer; ++l) {
    const BlockParams<const float>& b = w_.blocks[l];
    // Attention sub-layer: qkv (n, 3C) = c_attn(ln_1(x)).
    backend_->layernorm_forward(ln, mean, rstd, x, b.ln_1_w, b.ln_1_b, n, C, eps);
    linear(qkv, ln, b.c_attn_w, b.c_attn_b, n, C, 3 * C);
    // Append k and v of the new positions to the cache. Channel h HS + i of the k part of row t is
    // element i of head h's key at position p0 + t (the split of chapter 04's multihead_attention.h).
    for (int t = 0; t < n; ++t) {
      const float* row = qkv + static_cast<size_t>(t) * 3 * C;
      for (int h = 0; h < NH; ++h) {
        float* k = cache_.keys(l, h) + static_cast<size_t>(p0 + t) * HS;
        float* v = cache_.values(l, h) + static_cast<size_t>(p0 + t) * HS;
        for (int i = 0; i < HS; ++i) {
          k[i] = row[C + h * HS + i];
          v[i] = row[2 * C + h * HS + i];
        }
      }
    }
    // Each new position t attends to positions 0 .. p0 + t (causal): the past from the cache and
    // the new positions up to itself, which were just appended. The (t, h) pairs are independent.
#pragma omp parallel for collapse(2) schedule(static) if (static_cast <long long>(n) * keys_max * C > 100000)
    for (int t = 0; t < n; ++t) {
      for (int h = 0; h < NH; ++h) {
        const float* q = qkv + static_cast<size_t>(t) * 3 * C + h * HS;
        float* out = atty + static_cast<size_t>(t) * C + h * HS;  // heads side by side again
        float* s = scores + (static_cast<size_t>(t) * NH + h) * keys_max;
        attention_one_query(out, s, q, cache_.keys(l, h), cache_.values(l, h), p0 + t + 1, HS);
      }
    }
    linear(proj, atty, b.attn_c_proj_w, b.attn_c_proj_b, n, C, C);
    backend_->residual_forward(x, x, proj, static_cast<int>(nC));
    // MLP sub-layer: x += c_proj(gelu(c_fc(ln_2(x)))).
    backend_->layernorm_forward(ln, mean, rstd, x, b.ln_2_w, b.ln_2_b, n, C, eps);
    linear(fch, ln, b.c_fc_w, b.c_fc_b, n, C, 4 * C);
    backend_->gelu_forward(fch, fch, static_cast<int>(4 * nC));
    linear(proj, fch, b.mlp_c_proj_w, b.mlp_c_proj_b, n, 4 * C, C);
    backend_->residual_forward(x, x, proj, static_cast<int>(nC));
  }
  cache_.set_size(p0 + n);

  // Final LayerNorm and the tied head, only for the rows whose logits are wanted.
  const int rows = all_logits ? n : 1;
  const float* first = x + static_cast<size_t>(n - rows) * C;
  backend_->layernorm_forward(ln, mean, rstd, first, w_.lnf_w, w_.lnf_b, rows, C, eps);
  float* logits = scratch(logits_, static_cast<size_t>(rows) * V);
  if (rows == 1 && use_matvec_) {
    matvec_rows(logits, w_.wte, ln, V, C);
  } else {
    backend_->lm_head_forward(logits, ln, w_.wte, rows, C, V);
  }
  return {logits, static_cast<size_t>(rows) * V};
}

}  // namespace gpt2
