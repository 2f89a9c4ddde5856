/// @file model_dir.h
/// @brief Finding and loading a model directory: `--model models/my_run/model` or `--model gpt2`.
///
/// A model directory is chapter 05's Hugging Face layout plus chapter 01's tokenizer files:
///
///     config.json  model.safetensors  vocab.json  merges.txt
///
/// `gpt2 train` writes one (RUN_DIR/model), `scripts/download_gpt2.sh` downloads OpenAI's into
/// `models/<name>/`, and `transformers.GPT2LMHeadModel.from_pretrained` reads both.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "chapters/01_tokenizer/tokenizer.h"
#include "chapters/05_gpt2_model/backend.h"
#include "chapters/05_gpt2_model/gpt2.h"

namespace gpt2 {

/// Where `--model VALUE` points:
///  1. an existing directory: itself;
///  2. a bare name without '/' (e.g. `gpt2`, `gpt2-medium`): `models/NAME` under the current
///     directory, then under `$GPT2_MODELS_DIR`, then under the repository (next to `data/`),
///     where `scripts/download_gpt2.sh NAME` puts it.
/// Throws gpt2::Error naming the places it looked (and the download command for GPT-2's names);
/// `flag` names the option in messages (`--model`, or `--init` for gpt2 train).
std::filesystem::path resolve_model_dir(const std::string& model, const std::string& flag = "--model");

/// A model ready to run: its backend (which must outlive the model), the model and its tokenizer.
struct LoadedModel {
  std::filesystem::path dir;           ///< the resolved directory
  std::unique_ptr<Backend> backend;    ///< chapter 08's FastCpuBackend, or the plain CpuBackend
  std::unique_ptr<GPT2> model;         ///< config.json + model.safetensors
  std::optional<Tokenizer> tokenizer;  ///< vocab.json + merges.txt (or encoder.json + vocab.bpe)
};

/// Resolves `model` (resolve_model_dir), loads weights and tokenizer, and checks that the
/// tokenizer's ids fit the model's vocabulary. `plain_kernels` picks chapter 05's plain loops
/// instead of chapter 08's fast kernels; `device` is as for make_backend.
LoadedModel load_model(const std::string& model, bool plain_kernels, const std::string& device = "cpu");

/// The backend for `--device`: "cpu" (chapter 08's fast kernels, or chapter 05's plain loops
/// when `plain_kernels`) or "cuda" (chapter 09's CudaBackend, in a build configured with
/// -DGPT2_CUDA=ON on a machine with an NVIDIA GPU). Anything else, or "cuda" in a build without
/// chapter 09, is a gpt2::Error that says so.
std::unique_ptr<Backend> make_backend(const std::string& device, bool plain_kernels);

}  // namespace gpt2
