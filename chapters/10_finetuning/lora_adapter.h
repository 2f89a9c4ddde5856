/// @file lora_adapter.h
/// @brief A LoRA adapter's weights in Hugging Face PEFT's layout: create, read, write, merge.
///
/// An adapter directory holds `adapter_config.json` (lora_config.h) and
/// `adapter_model.safetensors` with, for every adapted layer (say `h.0.attn.c_attn`, C -> 3C):
///
///     base_model.model.transformer.h.0.attn.c_attn.lora_A.weight   (r, C)    lora_A = nn.Linear(C, r)
///     base_model.model.transformer.h.0.attn.c_attn.lora_B.weight   (3C, r)   lora_B = nn.Linear(r, 3C)
///
/// These are the names `peft.get_peft_model_state_dict` gives a GPT2LMHeadModel's adapter (the
/// PeftModel's `base_model.model.` prefix, the layer's path, PEFT's parameter name with the
/// adapter name "default" removed), so PEFT's `PeftModel.from_pretrained` loads what we write and
/// we load what it writes. A classifier's adapter (task SEQ_CLS) also carries the head it trained,
/// `base_model.model.score.weight` (K, C), as PEFT saves GPT2ForSequenceClassification's `score`.
/// On reading, the prefix `base_model.model.` without `transformer.` (an adapter of a bare
/// GPT2Model) is accepted too, and F16/BF16 tensors are converted to float.
///
/// Reading checks everything against the base model before anything is used and names the file,
/// the tensor and the problem: a missing tensor, a tensor no adapted layer owns, a shape that
/// does not fit the base model ("is the adapter for another base model?"), a non-finite value.
///
/// Merging adds each layer's s (B A)^T into its Conv1D weight (lora.h's lora_merge): the merged
/// model computes what the adapted model computes, up to float rounding, with no adapter at all.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "chapters/05_gpt2_model/config.h"
#include "chapters/05_gpt2_model/parameters.h"
#include "chapters/10_finetuning/lora_config.h"
#include "common/tensor.h"

namespace gpt2 {

/// The file names inside an adapter directory.
inline constexpr const char* kAdapterConfigFile = "adapter_config.json";
inline constexpr const char* kAdapterWeightsFile = "adapter_model.safetensors";

/// One adapted layer: where it is and its two factors.
struct LoraLayer {
  LoraTarget target;
  Tensor A;  ///< [r, in]   lora_A.weight
  Tensor B;  ///< [out, r]  lora_B.weight
};

/// A whole adapter: its settings, its layers in model order, and an optional classification head.
struct LoraAdapter {
  LoraConfig config;
  std::vector<LoraLayer> layers;
  Tensor score;  ///< [K, C] when config.has_score_head(); empty ([0]) otherwise

  /// A fresh adapter for a model of shape `base`, initialised as PEFT does: every A uniform in
  /// [-1/sqrt(in), 1/sqrt(in)] (kaiming_uniform with a = sqrt(5)), every B zero, drawn from
  /// gpt2::Rng(seed) layer by layer in model order. With `num_labels` > 0 the adapter also gets a
  /// classification head (K = num_labels), classifier_head_init() with a seed drawn from the same
  /// generator after the layers.
  static LoraAdapter create(const LoraConfig& config, const GPT2Config& base, uint64_t seed,
                            int num_labels = 0);

  /// The number of trainable numbers: the factors of every layer, plus the head.
  int64_t num_parameters() const;
};

/// PEFT's name of a layer's factor: `which` is 'A' or 'B'.
std::string peft_lora_tensor_name(const LoraTarget& target, char which);
/// PEFT's name of the classification head: "base_model.model.score.weight".
std::string peft_score_tensor_name();

/// Checks and reads an adapter for a base model of shape `base` from the two files' contents
/// (`config_name`, `weights_name` are used in messages). For tests and fuzzers; read_lora_adapter
/// reads a directory.
LoraAdapter parse_lora_adapter(std::string_view config_text, const std::string& config_name,
                               std::string weights_bytes, const std::string& weights_name,
                               const GPT2Config& base);
/// Reads `dir`/adapter_config.json and `dir`/adapter_model.safetensors.
LoraAdapter read_lora_adapter(const std::filesystem::path& dir, const GPT2Config& base);
/// Writes the two files into `dir` (created if needed; each file written atomically).
void write_lora_adapter(const std::filesystem::path& dir, const LoraAdapter& adapter);

/// Adds every layer's update into `params` (laid out as `layout`, the base model's): W += s (B A)^T.
/// The layout's configuration must be the one the adapter was read for.
void merge_lora_adapter(const LoraAdapter& adapter, const ParameterLayout& layout, std::span<float> params);

/// Writes a complete model directory `out_dir` holding the base model `base_dir` with the
/// adapter `adapter_dir` merged into its weights (config.json, model.safetensors and the base's
/// tokenizer files): a model that needs no adapter. Refuses an adapter with a classification
/// head (the merged model would be a classifier; its head is not part of this layout).
void merge_lora_adapter_dir(const std::filesystem::path& base_dir, const std::filesystem::path& adapter_dir,
                            const std::filesystem::path& out_dir);

}  // namespace gpt2
