#include "chapters/10_gpt2/model_dir.h"

#include <cstdlib>
#include <vector>

#include "chapters/05_gpt2_model/hf_checkpoint.h"
#include "chapters/08_cpu_parallel/fast_backend.h"
#include "common/error.h"
#include "common/testing.h"

namespace gpt2 {

namespace fs = std::filesystem;

fs::path resolve_model_dir(const std::string& model) {
  GPT2_CHECK(!model.empty(), "--model: empty model name");
  if (fs::is_directory(model)) return model;
  const bool bare_name = model.find('/') == std::string::npos && model != "." && model != "..";
  GPT2_CHECK(bare_name, "--model: model directory '", model, "' does not exist");
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
  fail("--model: '", model, "' is neither a directory nor a downloaded model (looked in ", looked, ")",
       openai ? cat("; download it with ./scripts/download_gpt2.sh ", model) : std::string());
}

LoadedModel load_model(const std::string& model, bool plain_kernels) {
  LoadedModel m;
  m.dir = resolve_model_dir(model);
  GPT2_CHECK(has_tokenizer_files(m.dir), "model directory '", m.dir.string(),
             "' has no tokenizer files (vocab.json + merges.txt, or encoder.json + vocab.bpe)");
  m.backend = make_cpu_backend(plain_kernels);
  m.model = std::make_unique<GPT2>(GPT2::load(m.dir, *m.backend));
  m.tokenizer.emplace(Tokenizer::load(m.dir));
  GPT2_CHECK(m.tokenizer->vocab_size() <= m.model->config().vocab_size, "model directory '", m.dir.string(),
             "': the tokenizer has ", m.tokenizer->vocab_size(), " tokens but the model only ",
             m.model->config().vocab_size);
  return m;
}

}  // namespace gpt2
