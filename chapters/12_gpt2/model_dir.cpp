#include "chapters/12_gpt2/model_dir.h"

#include <cstdlib>
#include <vector>

#include "chapters/05_gpt2_model/hf_checkpoint.h"
#include "chapters/08_cpu_parallel/fast_backend.h"
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

std::unique_ptr<Backend> make_backend(const BackendOptions& options) {
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

LoadedModel load_model(const std::string& model, const BackendOptions& options) {
  LoadedModel m;
  m.dir = resolve_model_dir(model);
  GPT2_CHECK(has_tokenizer_files(m.dir), "model directory '", m.dir.string(),
             "' has no tokenizer files (vocab.json + merges.txt, or encoder.json + vocab.bpe)");
  m.backend = make_backend(options);
  m.model = std::make_unique<GPT2>(GPT2::load(m.dir, *m.backend));
  m.tokenizer.emplace(Tokenizer::load(m.dir));
  GPT2_CHECK(m.tokenizer->vocab_size() <= m.model->config().vocab_size, "model directory '", m.dir.string(),
             "': the tokenizer has ", m.tokenizer->vocab_size(), " tokens but the model only ",
             m.model->config().vocab_size);
  return m;
}

}  // namespace gpt2
