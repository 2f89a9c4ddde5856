/// @file dropout_config.h
/// @brief GPT-2's three dropout probabilities, read from a Hugging Face `config.json`.
///
/// transformers' GPT2Config has `embd_pdrop` (after the embeddings), `attn_pdrop` (on the
/// attention weights) and `resid_pdrop` (on each residual branch's output); OpenAI's configs say
/// 0.1 for each (dropout.h shows where each one acts). A key that is absent means 0: dropout off,
/// as our own configs have it. Dropout acts only while training; evaluation and generation ignore
/// these numbers.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace gpt2 {

/// The dropout probabilities of a model, each in [0, 1).
struct DropoutConfig {
  float embd_pdrop = 0;   ///< after wte + wpe
  float attn_pdrop = 0;   ///< on the attention weights, after the softmax
  float resid_pdrop = 0;  ///< on the output of attn.c_proj and of mlp.c_proj

  /// True if any of the three is not 0.
  bool any() const { return embd_pdrop > 0 || attn_pdrop > 0 || resid_pdrop > 0; }
  bool operator==(const DropoutConfig&) const = default;
};

/// The dropout fields of a config.json text (`name` in messages). Throws, naming the key, for a
/// value that is not a number in [0, 1).
DropoutConfig parse_dropout_config(std::string_view config_json, const std::string& name);
/// Reads `path` (a config.json) with parse_dropout_config.
DropoutConfig read_dropout_config(const std::filesystem::path& path);

}  // namespace gpt2
