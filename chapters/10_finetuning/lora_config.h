/// @file lora_config.h
/// @brief A LoRA adapter's settings as Hugging Face PEFT writes them (`adapter_config.json`), and
/// which layers of a GPT-2 they adapt.
///
/// PEFT saves an adapter as a directory of two files, which we read and write unchanged:
///
///     adapter_config.json        {"peft_type": "LORA", "r": 8, "lora_alpha": 16,
///                                 "target_modules": ["c_attn"], "fan_in_fan_out": true,
///                                 "bias": "none", "task_type": "CAUSAL_LM", ...}
///     adapter_model.safetensors  base_model.model.transformer.h.0.attn.c_attn.lora_A.weight (r, C)
///                                base_model.model.transformer.h.0.attn.c_attn.lora_B.weight (3C, r)
///                                ... one pair per adapted layer (lora_adapter.h)
///
/// **Which layers.** A GPT-2 block has four Conv1D layers: `attn.c_attn` (C -> 3C),
/// `attn.c_proj` (C -> C), `mlp.c_fc` (C -> 4C) and `mlp.c_proj` (4C -> C). PEFT names each by its
/// path in the model, `transformer.h.{i}.attn.c_attn`, and adapts it when an entry of
/// `target_modules` equals that path or ends it after a dot. So "c_attn" adapts every block's
/// c_attn, "c_proj" both c_proj layers of every block, "mlp.c_proj" only the MLP's, and
/// "h.0.attn.c_attn" one layer. "all-linear" means all four (never the tied language-model head).
/// `layers_to_transform` keeps only the listed block indices, `exclude_modules` drops layers by
/// the same rule, `rank_pattern` / `alpha_pattern` give some layers their own r or alpha.
///
/// **The scale.** Each adapted layer adds s (B A)^T to its weight (lora.h) with s = alpha / r, or
/// alpha / sqrt(r) with `use_rslora` (rank-stabilised LoRA).
///
/// **What we refuse**, with a message naming the file and the field: another peft_type; a rank
/// below 1 or larger than the layer (r > min(in, out) adds nothing a smaller r cannot); a target
/// that names no layer of a GPT-2 (e.g. "q_proj", or "wte": LoRA on embeddings is not
/// implemented); bias other than "none" (PEFT would then train and save biases too); DoRA, LoRA
/// biases, trainable tokens, and targets given as a regular expression (write the list of names
/// instead). Fields we do not use (init_lora_weights, revision, ...) are ignored, as PEFT's
/// loader ignores fields it does not know.
///
/// The parser works on a string, so that tests and fuzzers can call it without files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chapters/05_gpt2_model/config.h"
#include "chapters/05_gpt2_model/linear_adapter.h"

namespace gpt2 {

/// The four Conv1D layers of a GPT-2 block: chapter 05's BlockLinear, where the model calls an
/// adapter (linear_adapter.h).
using LoraModule = BlockLinear;

/// "attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj".
const char* lora_module_name(LoraModule module);

/// One layer an adapter adapts: block `layer`'s `module`, which maps `in` to `out` features, with
/// rank `r` and scale `scaling` (= alpha / r, or alpha / sqrt(r)).
struct LoraTarget {
  int layer = 0;
  LoraModule module = LoraModule::attn_c_attn;
  int in = 0, out = 0;
  int r = 0;
  float scaling = 0;
  /// The layer's path without prefix, as chapter 05 names its weight: "h.0.attn.c_attn"
  /// (the weight is "h.0.attn.c_attn.weight").
  std::string path() const;
};

/// What PEFT's "all-linear" stands for in GPT-2: the module names that match all four Conv1D layers
/// of every block ("c_proj" matches both of them).
std::vector<std::string> all_linear_modules();

/// The settings of adapter_config.json that decide what the adapter computes. Defaults are
/// PEFT's (LoraConfig), with PEFT's default target for GPT-2, c_attn.
struct LoraConfig {
  int r = 8;                ///< rank of every adapted layer (unless rank_pattern says otherwise)
  double lora_alpha = 8;    ///< the scale's numerator
  double lora_dropout = 0;  ///< dropout on the adapter's input while training
  std::vector<std::string> target_modules = {"c_attn"};       ///< module names as PEFT matches them
  std::vector<std::string> exclude_modules;                   ///< names excluded by the same rule
  std::vector<int> layers_to_transform;                       ///< block indices to adapt; empty: all
  std::vector<std::pair<std::string, int>> rank_pattern;      ///< (name, r) overrides, first match wins
  std::vector<std::pair<std::string, double>> alpha_pattern;  ///< (name, alpha) overrides
  bool use_rslora = false;                                    ///< scale alpha / sqrt(r) instead of alpha / r
  bool fan_in_fan_out = true;                ///< weights stored (in, out): true for GPT-2's Conv1D
  std::string task_type = "CAUSAL_LM";       ///< "CAUSAL_LM", "SEQ_CLS" (with a `score` head) or ""
  std::string base_model_name_or_path;       ///< informational: the model it was trained on
  std::vector<std::string> modules_to_save;  ///< whole modules saved beside the adapter ("score")

  /// True if the adapter carries a classification head (`score`, K x C): task SEQ_CLS, or
  /// "score" in modules_to_save.
  bool has_score_head() const;
};

/// The largest adapter_config.json we read (PEFT writes about 1 KB).
inline constexpr size_t kMaxAdapterConfigBytes = 64 * 1024;

/// Parses the text of an adapter_config.json (`name` is used in messages). Checks each field's
/// type and value (see the file comment); which layers exist is checked by lora_targets().
/// The order of rank_pattern and alpha_pattern is kept: the first pattern that matches a layer
/// gives its value, as in PEFT.
LoraConfig parse_adapter_config(std::string_view text, const std::string& name);
/// Reads `path` (an adapter_config.json) with parse_adapter_config.
LoraConfig read_adapter_config(const std::filesystem::path& path);
/// The adapter_config.json text PEFT's `PeftModel.from_pretrained` reads.
std::string adapter_config_to_json(const LoraConfig& config);

/// Every layer of a GPT-2 of shape `base` that `config` adapts, in model order (block 0's
/// c_attn, attn.c_proj, c_fc, mlp.c_proj, then block 1, ...). Throws, naming `where`, for a target
/// that matches no layer, a layer index out of range, an r below 1 or above min(in, out), or when
/// no layer at all is adapted.
std::vector<LoraTarget> lora_targets(const LoraConfig& config, const GPT2Config& base,
                                     const std::string& where);

/// The number of trainable numbers of the adapted layers: sum of r (in + out).
int64_t lora_parameter_count(const std::vector<LoraTarget>& targets);

}  // namespace gpt2
