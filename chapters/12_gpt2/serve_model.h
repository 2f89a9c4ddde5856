/// @file serve_model.h
/// @brief What `gpt2 serve` asks of the model, in one place: load it, tokenize, generate token by
/// token with each token's probability, and look inside (attention weights, the logit lens).
///
/// The rest of the server (HTTP, JSON, the queue, the page) sees only this class, never the
/// model's buffers, so a change in how the model computes is a change in serve_model.cpp alone.
///
/// Threads: the tokenizer functions (encode(), token_bytes(), merge_of()) read an immutable
/// tokenizer and may be called from any thread at any time. generate(), attention() and
/// logit_lens() run the model, which has one activation arena and one KV cache: call them from one
/// thread at a time (the server's queue has a single worker thread for them).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chapters/12_gpt2/chat_template.h"

namespace gpt2 {

struct LoadedModel;
class LoraModel;
struct BackendOptions;
class KVCache;
class CpuBackend;

/// One vocabulary entry with its probability.
struct TokenProb {
  int id = 0;
  float prob = 0;
};

/// How to sample; the fields mirror `gpt2 generate`'s flags (chapter 07's GenerateOptions).
struct ServeSampling {
  int max_tokens = 16;       ///< new tokens at most (>= 0)
  float temperature = 1.0f;  ///< 0 means greedy
  int top_k = 0;             ///< 0 keeps every token
  float top_p = 1.0f;        ///< 1 keeps every token
  uint64_t seed = 1337;      ///< same seed, same tokens
  bool stop_at_eot = true;   ///< stop when the model produces <|endoftext|>
  int top_n = 0;             ///< report the n most probable alternatives of each token
};

/// One generated token, as generate() reports it.
struct SampledToken {
  int id = 0;
  /// ln p(id) under the model's own distribution softmax(logits), temperature 1 and no filter:
  /// what OpenAI's `logprobs` report, whatever the sampling options.
  float logprob = 0;
  /// The top_n most probable tokens of that distribution, most probable first.
  std::vector<TokenProb> top;
};

/// Why generate() stopped.
enum class StopReason {
  length,       ///< max_tokens tokens were generated
  end_of_text,  ///< the model produced <|endoftext|> (not reported to on_token)
  caller,       ///< on_token returned false (a stop string, or the client went away)
};

/// Attention weights of every layer and head for one prompt of T tokens.
struct AttentionMaps {
  int n_layer = 0, n_head = 0, T = 0;
  /// (n_layer, n_head, T, T): weights[((l * n_head + h) * T + i) * T + j] is how much position i
  /// attends to position j in head h of layer l (0 for j > i; each row sums to 1).
  std::vector<float> weights;
  float at(int l, int h, int i, int j) const {
    return weights[((static_cast<size_t>(l) * n_head + h) * T + i) * T + j];
  }
};

/// The logit lens for one prompt of T tokens: after the embedding and after each block, the
/// residual stream x_l put through the model's final LayerNorm and tied head, softmax(ln_f(x_l)
/// wte^T), as if the model ended there. Row n_layer is the model's own prediction.
struct LogitLens {
  int n_rows = 0, T = 0, top_n = 0;  ///< n_rows = n_layer + 1 (row 0: the embedding)
  /// (n_rows, T, top_n): the most probable next tokens at each row and position.
  std::vector<TokenProb> top;
  /// (n_rows, T - 1): the probability of the token that actually comes next in the prompt.
  std::vector<float> next_prob;
};

class ServeModel {
 public:
  /// Loads a model directory on the backend the options choose (chapter 12's load_model:
  /// `--model`, `--device`, `--plain-kernels`, `--weights`); with `adapter` a LoRA adapter
  /// directory (`--adapter`, adapter_option.h), every request runs the adapted model.
  ServeModel(const std::string& model, const BackendOptions& backend, const std::string& adapter = "");
  ~ServeModel();
  ServeModel(const ServeModel&) = delete;
  ServeModel& operator=(const ServeModel&) = delete;

  /// The directory's name (e.g. "model" for runs/main/train/model: its parent is used then).
  const std::string& name() const { return name_; }
  int context_length() const;  ///< n_positions
  int vocab_size() const;      ///< the tokenizer's vocabulary (ids the model can be given)
  int n_layer() const;
  int n_head() const;
  int n_embd() const;
  int64_t num_parameters() const;
  std::string backend_name() const;
  /// The `--adapter` directory the model runs with, or "".
  const std::string& adapter() const { return adapter_dir_; }
  /// The id of <|endoftext|>, or -1.
  int eot_id() const;

  // ----- tokenizer (any thread) ---------------------------------------------------------------
  /// Token ids of `text` (ordinary text: "<|endoftext|>" is spelled out unless allow_special).
  std::vector<int> encode(std::string_view text, bool allow_special = false) const;
  /// The bytes of one token (need not be valid UTF-8). Throws for an id out of range.
  std::string token_bytes(int id) const;
  /// The prompt of the next assistant turn of a conversation in the chat template
  /// (chat_template.h), for messages in an order chat_order_problem() accepts.
  std::vector<int> chat_prompt(std::span<const ChatMessage> messages) const;
  /// The merge that made token `id`: its two parts and its rank; {-1, -1, -1} for a byte or a
  /// special token.
  struct MergeParts {
    int left = -1, right = -1, rank = -1;
  };
  MergeParts merge_of(int id) const;

  // ----- the model (one thread at a time) -----------------------------------------------------
  /// Generates up to s.max_tokens tokens after `prompt` (1 to context_length() ids), calling
  /// on_token with each as soon as it is sampled; on_token returns false to stop. The tokens are
  /// those of `gpt2 generate` with the same options (same sampler, same seed, same sliding
  /// window past the context). Returns why it stopped.
  StopReason generate(std::span<const int> prompt, const ServeSampling& s,
                      const std::function<bool(const SampledToken&)>& on_token);
  /// The attention weights of every layer and head for `tokens` (1 to context_length() ids).
  AttentionMaps attention(std::span<const int> tokens);
  /// The logit lens for `tokens` (1 to context_length() ids), keeping the top_n tokens.
  LogitLens logit_lens(std::span<const int> tokens, int top_n);

 private:
  void forward(std::span<const int> tokens);
  std::unique_ptr<LoadedModel> m_;
  std::unique_ptr<LoraModel> adapter_;  // after m_: detached from the model before it goes
  std::string adapter_dir_;
  std::unique_ptr<KVCache> cache_;            // one sequence, the model's whole context
  std::unique_ptr<CpuBackend> host_backend_;  // for the lens when the model computes on a device
  std::vector<MergeParts> merges_by_id_;
  std::string name_;
};

}  // namespace gpt2
