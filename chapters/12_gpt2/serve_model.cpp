// The model behind `gpt2 serve`: see serve_model.h. Everything the server needs from chapters 01,
// 05 and 07 goes through this file.
#include "chapters/12_gpt2/serve_model.h"

#include <algorithm>
#include <cmath>

#include "chapters/05_gpt2_model/kv_cache.h"
#include "chapters/07_sampling/generate.h"
#include "chapters/12_gpt2/adapter_option.h"
#include "chapters/12_gpt2/model_dir.h"
#include "common/error.h"

namespace gpt2 {

ServeModel::ServeModel(const std::string& model, const BackendOptions& backend, const std::string& adapter)
    : m_(std::make_unique<LoadedModel>(load_model(model, backend))), adapter_dir_(adapter) {
  if (!adapter.empty()) adapter_ = apply_adapter(adapter, *m_);  // LoRA, unmerged
  cache_ = std::make_unique<KVCache>(m_->model->config(), *m_->backend);
  if (!m_->backend->host_memory()) host_backend_ = std::make_unique<CpuBackend>();
  // "runs/main/train/model" is better called "train" than "model".
  const std::filesystem::path dir = std::filesystem::absolute(m_->dir).lexically_normal();
  std::filesystem::path base = dir.filename().empty() ? dir.parent_path() : dir;
  name_ = base.filename().string();
  if (name_ == "model" && base.has_parent_path()) name_ = base.parent_path().filename().string();
  // Which merge made each token: merge r joins (left, right) into find_merge(left, right).id.
  const Tokenizer& tok = *m_->tokenizer;
  merges_by_id_.assign(tok.vocab_size(), MergeParts{});
  const auto& merges = tok.merges();
  for (size_t r = 0; r < merges.size(); ++r) {
    const int id = tok.find_merge(merges[r].first, merges[r].second).id;
    if (id >= 0 && id < tok.vocab_size())
      merges_by_id_[id] = {merges[r].first, merges[r].second, static_cast<int>(r)};
  }
}

ServeModel::~ServeModel() = default;

int ServeModel::context_length() const {
  return m_->model->config().n_positions;
}
int ServeModel::vocab_size() const {
  return m_->tokenizer->vocab_size();
}
int ServeModel::n_layer() const {
  return m_->model->config().n_layer;
}
int ServeModel::n_head() const {
  return m_->model->config().n_head;
}
int ServeModel::n_embd() const {
  return m_->model->config().n_embd;
}
int64_t ServeModel::num_parameters() const {
  return m_->model->num_parameters();
}
std::string ServeModel::backend_name() const {
  return m_->backend->name();
}
int ServeModel::eot_id() const {
  return m_->tokenizer->eot_id();
}

std::vector<int> ServeModel::encode(std::string_view text, bool allow_special) const {
  return m_->tokenizer->encode(text, allow_special);
}

std::string ServeModel::token_bytes(int id) const {
  return std::string(m_->tokenizer->token_bytes(id));
}

std::vector<int> ServeModel::chat_prompt(std::span<const ChatMessage> messages) const {
  GPT2_CHECK(eot_id() >= 0, "chat: the model's tokenizer has no <|endoftext|>, which ends every answer");
  return gpt2::chat_prompt(messages, *m_->tokenizer);
}

ServeModel::MergeParts ServeModel::merge_of(int id) const {
  GPT2_CHECK(id >= 0 && id < vocab_size(), "token id ", id, " is outside the vocabulary [0, ", vocab_size(),
             ")");
  return merges_by_id_[id];
}

namespace {

// ln p(id) and the n most probable tokens of softmax(logits) (temperature 1, no filter), with
// the log-sum-exp taken in double: ln p_i = z_i - (z_max + ln sum_j exp(z_j - z_max)).
SampledToken describe(std::span<const float> logits, int id, int top_n) {
  const float zmax = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float z : logits) sum += std::exp(static_cast<double>(z) - zmax);
  const double lse = zmax + std::log(sum);
  SampledToken t;
  t.id = id;
  t.logprob = static_cast<float>(logits[id] - lse);
  top_n = std::min<int>(top_n, static_cast<int>(logits.size()));
  if (top_n > 0) {
    std::vector<int> ids(logits.size());
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int>(i);
    // More probable first, the lower id first on ties (the sampler's order).
    std::partial_sort(ids.begin(), ids.begin() + top_n, ids.end(), [&](int a, int b) {
      return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    });
    for (int k = 0; k < top_n; ++k)
      t.top.push_back({ids[k], static_cast<float>(std::exp(logits[ids[k]] - lse))});
  }
  return t;
}

}  // namespace

StopReason ServeModel::generate(std::span<const int> prompt, const ServeSampling& s,
                                const std::function<bool(const SampledToken&)>& on_token) {
  // Chapter 07's generate(): the same sampler and seed, the same cache and sliding window, so the
  // tokens are those of `gpt2 generate` (the tests check it, past the context too). Its callback
  // sees the logits each token was drawn from (for its probability and alternatives) and stops
  // the generation when the server says so (a stop string, a client that went away).
  GenerateOptions options;
  options.max_new_tokens = s.max_tokens;
  options.temperature = s.temperature;
  options.top_k = s.top_k;
  options.top_p = s.top_p;
  options.seed = s.seed;
  options.stop_at_eot = s.stop_at_eot && eot_id() >= 0;
  options.eot_token = eot_id();
  options.validate();
  GPT2& model = *m_->model;
  model.set_mode(GPT2::Mode::inference);
  GPT2_CHECK(!prompt.empty() && static_cast<int>(prompt.size()) <= cache_->capacity(),
             "generate: the prompt has ", prompt.size(), " tokens; it must have 1 to ", cache_->capacity());
  const Generation g = gpt2::generate(
      model, *cache_, prompt, options,
      [&](int token, std::span<const float> logits) { return on_token(describe(logits, token, s.top_n)); });
  if (g.stopped_by_callback) return StopReason::caller;
  return g.stopped_at_eot ? StopReason::end_of_text : StopReason::length;
}

void ServeModel::forward(std::span<const int> tokens) {
  GPT2_CHECK(!tokens.empty() && static_cast<int>(tokens.size()) <= context_length(), "the prompt has ",
             tokens.size(), " tokens; it must have 1 to ", context_length());
  for (int id : tokens)
    GPT2_CHECK(id >= 0 && id < m_->model->config().vocab_size, "token id ", id, " is outside the vocabulary");
  // Chapter 05's forward pass over one sequence (B = 1) without targets, in inspect mode: it keeps
  // every block's activations, which is what we look at.
  m_->model->set_mode(GPT2::Mode::inspect);
  m_->model->forward(tokens.data(), nullptr, 1, static_cast<int>(tokens.size()));
}

AttentionMaps ServeModel::attention(std::span<const int> tokens) {
  forward(tokens);
  const GPT2Config& c = m_->model->config();
  AttentionMaps maps;
  maps.n_layer = c.n_layer;
  maps.n_head = c.n_head;
  maps.T = static_cast<int>(tokens.size());
  const size_t per_layer = static_cast<size_t>(c.n_head) * maps.T * maps.T;  // att is (B=1, NH, T, T)
  maps.weights.reserve(per_layer * c.n_layer);
  for (int l = 0; l < c.n_layer; ++l) {
    const std::vector<float> att = to_host(*m_->backend, m_->model->activations().blocks[l].att, per_layer);
    maps.weights.insert(maps.weights.end(), att.begin(), att.end());
  }
  return maps;
}

LogitLens ServeModel::logit_lens(std::span<const int> tokens, int top_n) {
  forward(tokens);
  const GPT2Config& c = m_->model->config();
  const int T = static_cast<int>(tokens.size()), C = c.n_embd, V = c.vocab_size;
  const Activations& acts = m_->model->activations();
  // The lens runs the model's own final LayerNorm and head (lm_head.h) on the backend when it
  // computes in host memory, else on a plain CPU backend with the host copy of the weights.
  Backend& backend = host_backend_ ? *host_backend_ : *m_->backend;
  // Host copies of the head's weights (param() downloads them).
  const Tensor lnf_w = m_->model->param("ln_f.weight");
  const Tensor lnf_b = m_->model->param("ln_f.bias");
  const Tensor wte = m_->model->param("wte.weight");
  top_n = std::clamp(top_n, 1, V);

  LogitLens lens;
  lens.n_rows = c.n_layer + 1;
  lens.T = T;
  lens.top_n = top_n;
  std::vector<float> ln(static_cast<size_t>(T) * C), mean(T), rstd(T), logits(static_cast<size_t>(T) * V);
  for (int row = 0; row < lens.n_rows; ++row) {
    // Row 0 reads the embedding (the residual stream entering block 0), row l + 1 block l's output.
    const float* x = row == 0 ? acts.encoded : acts.blocks[row - 1].out;
    const std::vector<float> xh = to_host(*m_->backend, x, static_cast<size_t>(T) * C);
    backend.layernorm_forward(ln.data(), mean.data(), rstd.data(), xh.data(), lnf_w.data(), lnf_b.data(), T,
                              C, c.layer_norm_epsilon);
    backend.lm_head_forward(logits.data(), ln.data(), wte.data(), T, C, V);
    for (int t = 0; t < T; ++t) {
      std::span<const float> z(logits.data() + static_cast<size_t>(t) * V, V);
      const int next = t + 1 < T ? tokens[t + 1] : 0;
      const SampledToken d = describe(z, next, top_n);
      lens.top.insert(lens.top.end(), d.top.begin(), d.top.end());
      if (t + 1 < T) lens.next_prob.push_back(std::exp(d.logprob));
    }
  }
  return lens;
}

}  // namespace gpt2
