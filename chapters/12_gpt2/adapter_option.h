/// @file adapter_option.h
/// @brief `--adapter DIR`: a LoRA adapter (chapter 10) applied to the model a command runs.
///
/// An adapter directory is what `gpt2 finetune` writes into RUN_DIR/adapter, or what the PEFT
/// library's `save_pretrained` writes: `adapter_config.json` and `adapter_model.safetensors`
/// (chapter 10's lora_config.h reads both layouts, since they are one). The adapter stays
/// unmerged: each adapted layer computes W x + s B (A x) (chapter 10's LoraModel), so one base
/// model serves any number of adapters. It must have been trained for the model's shape: a
/// factor whose shape does not match its layer is an error naming the file and the tensor.
#pragma once

#include <memory>
#include <string>

#include "chapters/10_finetuning/lora_model.h"
#include "chapters/12_gpt2/args.h"
#include "chapters/12_gpt2/model_dir.h"

namespace gpt2 {

/// Declares `--adapter DIR` on a command's parser.
void add_adapter_option(ArgParser& p);

/// Reads `dir` (checked against the model's shape; errors name `--adapter` and the file).
LoraAdapter read_adapter_option(const std::string& dir, const LoadedModel& m);

/// The adapter `--adapter` names attached to `m`'s model, or null when the option is not given.
/// A classifier's adapter (with a `score` head) is refused with a pointer to `gpt2 classify`
/// when `allow_head` is false. LoRA computes in float32: the model must run with f32 weights.
std::unique_ptr<LoraModel> apply_adapter_option(const ArgParser& p, LoadedModel& m, bool allow_head = false);

/// The same for an adapter directory given some other way (`gpt2 serve`'s ServeModel).
std::unique_ptr<LoraModel> apply_adapter(const std::string& dir, LoadedModel& m, bool allow_head = false);

}  // namespace gpt2
