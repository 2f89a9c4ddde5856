#include "chapters/12_gpt2/model_dir.h"

#include <cstdlib>
#include <vector>

#include "chapters/05_gpt2_model/hf_checkpoint.h"
#include "chapters/08_cpu_parallel/fast_backend.h"
#include "chapters/08_cpu_parallel/weight_files.h"
#include "chapters/08_cpu_parallel/weight_format_backend.h"
#include "common/error.h"
#include "common/testing.h"
#ifdef GPT2_HAVE_CUDA
#include "chapters/09_cuda/cuda_backend.h"
#endif

namespace gpt2 {

namespace fs = std::filesystem;

fs::path resolve_model_dir(const std::string& model, const std::string& flag) {
  GPT2_CHECK(!model.empty(), flag, ": empty model name");
  if (fs::is_directory(model)) return model;
  GPT2_CHECK(!fs::exists(model), flag, ": '", model, "' is a file, not a model directory");
  const bool bare_name = model.find('/') == std::string::npos && model != "." && model != "..";
  GPT2_CHECK(bare_name, flag, ": model directory '", model, "' does not exist");
  std::vector<fs::path> candidates = {fs::path("models") / model};
  if (const char* env = std::getenv("GPT2_MODELS_DIR"); env && *env)
    candidates.push_back(fs::path(env) / model);
  if (!data_dir().empty()) candidates.push_back(fs::path(data_dir()).parent_path() / "models" / model);
  std::string looked;
  for (const fs::path& dir : candidates) {
    if (fs::is_directory(dir)) return dir;
    looked += (looked.empty() ? "" : ", ") + dir.string();
  }
  const bool openai =
      model == "gpt2" || model == "gpt2-medium" || model == "gpt2-large" || model == "gpt2-xl";
  fail(flag, ": '", model, "' is neither a directory nor a downloaded model (looked in ", looked, ")",
       openai ? cat("; download it with ./scripts/download_gpt2.sh ", model) : std::string());
}

void add_backend_options(ArgParser& p) {
  p.flag("--plain-kernels",
         "use chapter 05's plain loops instead of chapter 08's fast kernels (also: GPT2_PLAIN_KERNELS=1)");
  p.option("--device", "NAME", "cpu, or cuda (chapter 09: a -DGPT2_CUDA=ON build and an NVIDIA GPU)", "cpu");
}

BackendOptions backend_options(const ArgParser& p) {
  BackendOptions o;
  o.device = p.get("--device");
  o.plain_kernels = p.given("--plain-kernels");
  if (!o.plain_kernels && plain_kernels_requested()) {
    o.plain_kernels = true;
    o.plain_reason = "GPT2_PLAIN_KERNELS";
  }
  return o;
}

void add_inference_options(ArgParser& p) {
  add_backend_options(p);
  p.option("--weights", "FORMAT",
           "the weight matrices in f32, bf16 or q8 (int8 in blocks of 32; chapter 08), converted on load "
           "(default: the format the model directory holds)");
  p.option("--q8-activations", "HOW",
           "with q8 weights: quantize the activations too (q8) or keep them float (f32)", "q8");
}

BackendOptions inference_options(const ArgParser& p) {
  BackendOptions o = backend_options(p);
  o.weights = p.get("--weights");
  if (!o.weights.empty()) parse_weight_format(o.weights, "--weights");
  const std::string activations = p.get("--q8-activations");
  GPT2_CHECK(activations == "q8" || activations == "f32", "--q8-activations: expected q8 or f32, got '",
             activations, "'");
  o.q8_activations = activations == "q8" ? Q8Activations::q8 : Q8Activations::f32;
  return o;
}

BackendOptions generation_options(const ArgParser& p) {
  BackendOptions o = inference_options(p);
  o.decode_copy = true;  // f32 weights: the Conv1D weights also tiled for decoding (chapter 08)
  return o;
}

std::unique_ptr<Backend> make_backend(const BackendOptions& options) {
  const WeightFormat weights =
      options.weights.empty() ? WeightFormat::f32 : parse_weight_format(options.weights, "--weights");
  if (weights != WeightFormat::f32) {
    GPT2_CHECK(options.device == "cpu", "--weights ", options.weights,
               ": the bf16 and q8 kernels run on the CPU (chapter 08); with --device ", options.device,
               " use --weights f32");
    GPT2_CHECK(!options.plain_kernels, options.plain_reason, ": the plain loops compute in f32; --weights ",
               options.weights, " runs on chapter 08's kernels");
    return std::make_unique<WeightFormatBackend>(weights, options.q8_activations);
  }
  if (options.device == "cpu" && options.decode_copy && !options.plain_kernels) {
    return std::make_unique<WeightFormatBackend>(WeightFormat::f32);  // + the decode copy (matvec.h)
  }
  if (options.device == "cpu") return make_cpu_backend(options.plain_kernels);
  GPT2_CHECK(options.device == "cuda", "--device: expected 'cpu' or 'cuda', got '", options.device, "'");
  GPT2_CHECK(!options.plain_kernels, options.plain_reason,
             ": the plain loops run on the CPU only, not with --device cuda");
#ifdef GPT2_HAVE_CUDA
  CudaBackend::Options cuda;
  cuda.device = options.cuda_device;
  return std::make_unique<CudaBackend>(cuda);  // throws a readable gpt2::Error when there is no GPU
#else
  fail(
      "--device cuda: this gpt2 was built without the CUDA backend (configure with -DGPT2_CUDA=ON, chapter "
      "09)");
#endif
}

std::string weights_note(WeightFormat format) {
  return format == WeightFormat::f32 ? "" : cat(" (", weight_format_name(format), " weights)");
}

LoadedModel load_model(const std::string& model, const BackendOptions& options) {
  LoadedModel m;
  m.dir = resolve_model_dir(model);
  GPT2_CHECK(has_tokenizer_files(m.dir), "model directory '", m.dir.string(),
             "' has no tokenizer files (vocab.json + merges.txt, or encoder.json + vocab.bpe)");
  // The format: the one asked for, else the one the directory holds (a q8 directory runs in q8 on
  // chapter 08's kernels; on the plain loops or a GPU it is widened to f32, which loses nothing).
  BackendOptions o = options;
  if (o.weights.empty()) {
    const bool formats_run_here = o.device == "cpu" && !o.plain_kernels;
    o.weights = weight_format_name(formats_run_here ? stored_weight_format(m.dir) : WeightFormat::f32);
  }
  m.weights = parse_weight_format(o.weights, "--weights");
  m.backend = make_backend(o);
  m.model = std::make_unique<GPT2>(load_model_dir_for_inference(m.dir, *m.backend));
  m.tokenizer.emplace(Tokenizer::load(m.dir));
  GPT2_CHECK(m.tokenizer->vocab_size() <= m.model->config().vocab_size, "model directory '", m.dir.string(),
             "': the tokenizer has ", m.tokenizer->vocab_size(), " tokens but the model only ",
             m.model->config().vocab_size);
  return m;
}

}  // namespace gpt2
