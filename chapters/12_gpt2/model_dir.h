/// @file model_dir.h
/// @brief Finding and loading a model directory (`--model models/my_run/model` or `--model gpt2`),
/// and the backend it runs on (`--device`, `--plain-kernels`, GPT2_PLAIN_KERNELS), the same way in
/// every command.
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
#include "chapters/08_cpu_parallel/weight_formats.h"
#include "chapters/12_gpt2/args.h"

namespace gpt2 {

/// Where `--model VALUE` points:
///  1. an existing directory: itself;
///  2. a bare name without '/' (e.g. `gpt2`, `gpt2-medium`): `models/NAME` under the current
///     directory, then under `$GPT2_MODELS_DIR`, then under the repository (next to `data/`),
///     where `scripts/download_gpt2.sh NAME` puts it.
/// Throws gpt2::Error naming the places it looked (and the download command for GPT-2's names);
/// `flag` names the option in messages (`--model`, or `--init` for gpt2 train).
std::filesystem::path resolve_model_dir(const std::string& model, const std::string& flag = "--model");

/// Where a command's model computes.
struct BackendOptions {
  std::string device = "cpu";  ///< "cpu" or "cuda"
  bool plain_kernels = false;  ///< chapter 05's plain loops instead of chapter 08's fast kernels (CPU)
  std::string plain_reason = "--plain-kernels";  ///< what asked for the plain loops (for messages)
  int cuda_device = 0;  ///< which GPU with "cuda" (a rank of `mpirun` takes its own, ranks.h)
  /// The format of the weight matrices for inference (`--weights`, chapter 08's weight formats):
  /// "f32", "bf16", "q8", or "" for the one the model directory stores (f32 for an ordinary
  /// checkpoint, q8 for what `gpt2 quantize` wrote; f32 on the plain loops or a GPU, which run
  /// float weights only). Training always uses f32.
  std::string weights;
  /// With q8 weights: whether the products quantize the activations too (`--q8-activations`).
  Q8Activations q8_activations = Q8Activations::q8;
  /// For the commands that generate (generate, chat, serve): with f32 weights on chapter 08's
  /// kernels, keep a copy of the Conv1D weights tiled for the decode steps (WeightFormatBackend in
  /// f32), which a token reads at the memory's speed, for 68% more memory on GPT-2 124M.
  bool decode_copy = false;
};

/// Declares `--device NAME` and `--plain-kernels` on a command's parser (every command that runs
/// a model calls this, so they are spelled and explained alike).
void add_backend_options(ArgParser& p);
/// The options add_backend_options declared, after parsing. The environment variable
/// GPT2_PLAIN_KERNELS (set to anything but "" or "0") means the same as --plain-kernels.
BackendOptions backend_options(const ArgParser& p);

/// The commands that only run a model (generate, eval) also declare `--weights f32|bf16|q8` and
/// `--q8-activations q8|f32`: add_backend_options and these two.
void add_inference_options(ArgParser& p);
/// backend_options() and the two weight options.
BackendOptions inference_options(const ArgParser& p);
/// inference_options() for the commands that generate (generate, chat, serve): with decode_copy.
BackendOptions generation_options(const ArgParser& p);

/// The backend for `options`: "cpu" (chapter 08's fast kernels, or chapter 05's plain loops with
/// plain_kernels; with weights bf16 or q8, chapter 08's WeightFormatBackend) or "cuda" (chapter
/// 09's CudaBackend, in a build configured with -DGPT2_CUDA=ON on a machine with an NVIDIA GPU).
/// Another device, "cuda" in a build without chapter 09, the plain loops with "cuda", or weights
/// bf16 or q8 on the plain loops or on "cuda" is a gpt2::Error that says so. An empty `weights`
/// means f32 here.
std::unique_ptr<Backend> make_backend(const BackendOptions& options);

/// A model ready to run: its backend (which must outlive the model), the model and its tokenizer.
struct LoadedModel {
  std::filesystem::path dir;                 ///< the resolved directory
  WeightFormat weights = WeightFormat::f32;  ///< the format the weight matrices are computed in
  std::unique_ptr<Backend> backend;          ///< FastCpuBackend, CpuBackend or CudaBackend (make_backend)
  std::unique_ptr<GPT2> model;               ///< config.json + model.safetensors
  std::optional<Tokenizer> tokenizer;        ///< vocab.json + merges.txt (or encoder.json + vocab.bpe)
};

/// " (q8 weights)" for a format other than f32, "" for f32: what a command's summary line adds.
std::string weights_note(WeightFormat format);

/// Resolves `model` (resolve_model_dir), loads weights (onto the backend `options` asks for, in
/// inference mode, in the format options.weights asks for: a q8 directory loaded with f32 is
/// widened back to float) and tokenizer, and checks that the tokenizer's ids fit the model's
/// vocabulary.
LoadedModel load_model(const std::string& model, const BackendOptions& options);

}  // namespace gpt2
