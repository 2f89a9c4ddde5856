/// @file config.h
/// @brief The hyper-parameters that fix a GPT-2's shape, by name or explicit, and the Hugging Face
/// `config.json` that stores them next to the weights.
///
/// Notation: L = n_layer, NH = n_head, C = n_embd, maxT = n_positions (the context length),
/// V = vocab_size, HS = C / NH (the head size).
///
/// | name          |  L | NH |    C | maxT |     V | parameters  |
/// |---------------|---:|---:|-----:|-----:|------:|------------:|
/// | `gpt2`        | 12 | 12 |  768 | 1024 | 50257 | 124,439,808 |
/// | `gpt2-medium` | 24 | 16 | 1024 | 1024 | 50257 | 354,823,168 |
/// | `gpt2-large`  | 36 | 20 | 1280 | 1024 | 50257 | 774,030,080 |
/// | `gpt2-xl`     | 48 | 25 | 1600 | 1024 | 50257 | 1,557,611,200 |
///
/// PyTorch / transformers equivalent: `transformers.GPT2Config`.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace gpt2 {

/// The largest sizes this program accepts: far above GPT-2 xl's (48 layers, 1600 channels, 1024
/// positions, 50257 tokens), low enough that every size product the ops compute stays in range and
/// that a typo in a config.json is an error rather than an attempt to allocate terabytes.
inline constexpr int kMaxLayers = 1024;
inline constexpr int kMaxEmbd = 16384;
inline constexpr int kMaxPositions = 1 << 20;
inline constexpr int kMaxVocab = 1 << 24;

/// GPT-2's three dropout probabilities (dropout.h shows where each one acts), each in [0, 1).
/// They act only in training mode; evaluation and generation ignore them. transformers' names;
/// OpenAI's configs say 0.1 for each, ours 0 unless `gpt2 train --dropout` says otherwise.
struct DropoutConfig {
  float embd_pdrop = 0;   ///< after wte + wpe
  float attn_pdrop = 0;   ///< on the attention weights, after the softmax
  float resid_pdrop = 0;  ///< on the output of attn.c_proj and of mlp.c_proj, before each residual add

  /// True if any of the three is not 0.
  bool any() const { return embd_pdrop > 0 || attn_pdrop > 0 || resid_pdrop > 0; }
  /// Throws gpt2::Error naming the first probability outside [0, 1) (prefixed by `where`).
  void validate(std::string_view where = "DropoutConfig") const;
  bool operator==(const DropoutConfig&) const = default;
};

/// The shape of a GPT-2. Everything else (head size, MLP width 4C, parameter count) follows.
/// (Plus the dropout of training, which config.json keeps beside the shape.)
struct GPT2Config {
  int n_layer = 12;                  ///< L: number of transformer blocks
  int n_head = 12;                   ///< NH: attention heads per block
  int n_embd = 768;                  ///< C: channels of the residual stream
  int n_positions = 1024;            ///< maxT: context length (rows of the position embedding)
  int vocab_size = 50257;            ///< V: rows of the token embedding (and columns of the logits)
  float layer_norm_epsilon = 1e-5f;  ///< eps added to the variance in every LayerNorm
  DropoutConfig dropout;             ///< embd_pdrop, attn_pdrop, resid_pdrop (training only)

  /// HS = C / NH.
  int head_size() const { return n_embd / n_head; }

  /// Throws gpt2::Error naming the first field that is out of range (every size > 0 and at most
  /// its kMax... limit, C divisible by NH, eps > 0 and finite). `where` prefixes the message (e.g.
  /// the config file's name).
  void validate(std::string_view where = "GPT2Config") const;

  /// The configuration of one of OpenAI's models: "gpt2" (124M), "gpt2-medium" (350M),
  /// "gpt2-large" (774M), "gpt2-xl" (1558M). Throws, listing the known names, otherwise.
  static GPT2Config from_name(std::string_view name);
  /// An explicit configuration, validated.
  static GPT2Config make(int n_layer, int n_head, int n_embd, int n_positions, int vocab_size,
                         float layer_norm_epsilon = 1e-5f);
  /// The names from_name() knows.
  static std::vector<std::string> known_names();

  bool operator==(const GPT2Config&) const = default;
  /// The same shape (every field but the dropout): the same weights fit both.
  bool same_shape(const GPT2Config& o) const {
    GPT2Config a = *this;
    a.dropout = o.dropout;
    return a == o;
  }
};

/// "L=12 NH=12 C=768 maxT=1024 V=50257"
std::string to_string(const GPT2Config& config);

/// Parses the text of a Hugging Face GPT-2 `config.json` (`name` is used in messages). Reads
/// n_layer, n_head, n_embd, n_positions (or n_ctx), vocab_size, layer_norm_epsilon and the
/// dropout probabilities embd_pdrop, attn_pdrop, resid_pdrop (absent or null: 0); rejects
/// models this course does not implement (model_type other than "gpt2", an activation other
/// than the tanh GELU, an MLP width n_inner other than 4C, attention scaled by layer index).
GPT2Config parse_config_json(const std::string& text, const std::string& name);
/// Reads `path` (a config.json) with parse_config_json.
GPT2Config read_config_json(const std::filesystem::path& path);
/// The config.json text `transformers.GPT2LMHeadModel.from_pretrained` needs for this model
/// (with its dropout probabilities).
std::string config_to_json(const GPT2Config& config);
/// Writes config_to_json(config) to `path` (atomically).
void write_config_json(const GPT2Config& config, const std::filesystem::path& path);

}  // namespace gpt2
