/// @file hf_checkpoint.h
/// @brief Reading and writing GPT-2 weights in the Hugging Face layout (`model.safetensors`,
/// `config.json`, tokenizer files in one directory).
///
/// A model directory, as transformers' `GPT2LMHeadModel.save_pretrained` writes it and
/// `from_pretrained` reads it:
///
///     models/gpt2/config.json         n_layer, n_head, n_embd, n_positions, vocab_size, ...
///     models/gpt2/model.safetensors   wte.weight, wpe.weight, h.0.ln_1.weight, ..., ln_f.bias
///     models/gpt2/vocab.json          the tokenizer (chapter 01; OpenAI calls it encoder.json)
///     models/gpt2/merges.txt          the BPE merges (OpenAI calls it vocab.bpe)
///
/// Reading is lenient where checkpoints legitimately differ and strict everywhere else:
///  - names may carry the `transformer.` prefix (what GPT2LMHeadModel's state_dict() has);
///  - `lm_head.weight` may be present; it must equal `wte.weight` (the head is tied);
///  - the buffers `h.i.attn.bias` (the causal mask) and `h.i.attn.masked_bias` are ignored, and so
///    is `score.weight`, the head of a GPT2ForSequenceClassification (chapter 10 reads it);
///  - F32, F16, BF16 (and F64) data is converted to float;
///  - every other name, a missing tensor, a wrong shape, a non-float dtype, a NaN or infinite
///    weight is an error naming the file, the tensor and what was expected; the first problem
///    found is reported. config.json is checked against the tensors' shapes before anything is
///    allocated from it.
/// Writing produces F32 tensors without prefix and `__metadata__ {"format": "pt"}`, exactly like
/// OpenAI's own `gpt2/model.safetensors` on the Hugging Face hub.
#pragma once

#include <filesystem>
#include <functional>
#include <span>
#include <string_view>

#include "chapters/01_tokenizer/vocab_files.h"  // has_tokenizer_files, find_tokenizer_files
#include "chapters/05_gpt2_model/parameters.h"
#include "common/safetensors.h"

namespace gpt2 {

/// Checks the sizes of `config` against the shapes in `file`'s header (wte.weight is [V, C],
/// wpe.weight [maxT, C], the blocks h.0 .. h.{L-1}), so that a config.json that disagrees with its
/// weights is reported, naming `config_name` and the field, before anything is allocated from it.
void check_config_matches_weights(const GPT2Config& config, const SafetensorsFile& file,
                                  const std::string& config_name = "config.json");

/// Checks every tensor of `file` against `layout` and copies the weights into `params`
/// (num_parameters() floats). `config_name` names where the configuration came from, for the
/// "config and tensors disagree" messages.
void read_hf_weights(const SafetensorsFile& file, const ParameterLayout& layout, std::span<float> params,
                     const std::string& config_name = "config.json");

/// The name of a sequence classifier's head in its model.safetensors (transformers'
/// GPT2ForSequenceClassification): read_hf_weights skips it.
inline constexpr std::string_view kClassifierHeadName = "score.weight";

/// Adds every tensor of `params` (laid out as `layout`) to `writer` under its Hugging Face name
/// with `prefix` before it ("transformer." as GPT2ForSequenceClassification's state dict has it).
/// In F32 the writer keeps views of `params` (SafetensorsWriter::add_view): keep them alive and
/// unchanged until it has written.
void add_hf_weights(SafetensorsWriter& writer, const ParameterLayout& layout, std::span<const float> params,
                    DType dtype = DType::F32, std::string_view prefix = "");
/// Writes `params` (laid out as `layout`) as a Hugging Face GPT-2 `model.safetensors`.
/// `dtype` is F32 (the default, exact) or F16 (half the size, rounded).
void write_hf_weights(const std::filesystem::path& path, const ParameterLayout& layout,
                      std::span<const float> params, DType dtype = DType::F32);

/// A model read from a directory: its configuration and its parameters (one flat buffer laid out
/// as ParameterLayout(config)).
struct HFModel {
  GPT2Config config;
  Tensor params;  ///< [num_parameters]
};

/// Reads `dir`/config.json and `dir`/model.safetensors, checking everything (see the file
/// comment). The tokenizer files are not read here (chapter 01 reads them).
HFModel read_hf_model_dir(const std::filesystem::path& dir);
/// The same, reading the weights into the buffer `weights_into(config)` returns (num_parameters()
/// floats on the host) once config.json has been read: a model in host memory loads without a
/// second copy of its weights. Returns the configuration.
GPT2Config read_hf_model_dir(const std::filesystem::path& dir,
                             const std::function<std::span<float>(const GPT2Config&)>& weights_into);

/// The same from a configuration and a weights file already read (`config_name` names where the
/// configuration came from): check_config_matches_weights, then read_hf_weights.
HFModel read_hf_model(const GPT2Config& config, const SafetensorsFile& weights,
                      const std::string& config_name = "config.json");

/// Writes a complete model directory: model.safetensors (F32), config.json and, when
/// `tokenizer_dir` is not empty, the tokenizer files copied from there.
void write_hf_model_dir(const std::filesystem::path& dir, const GPT2Config& config,
                        std::span<const float> params, const std::filesystem::path& tokenizer_dir = {});

/// Copies the tokenizer files of `from_dir` (the pair chapter 01's find_tokenizer_files() picks,
/// the one Tokenizer::load reads) into `to_dir` under their Hugging Face names, vocab.json and
/// merges.txt, and removes an encoder.json + vocab.bpe pair there, so `to_dir` holds one
/// tokenizer. Throws if `from_dir` holds no tokenizer, or two different ones.
void copy_tokenizer_files(const std::filesystem::path& from_dir, const std::filesystem::path& to_dir);

}  // namespace gpt2
