#include "chapters/12_gpt2/adapter_option.h"

#include <filesystem>

#include "chapters/08_cpu_parallel/weight_format_backend.h"
#include "common/error.h"

namespace gpt2 {

namespace fs = std::filesystem;

void add_adapter_option(ArgParser& p) {
  p.option("--adapter", "DIR",
           "apply a LoRA adapter to the model: RUN_DIR/adapter of 'gpt2 finetune', or a PEFT "
           "adapter directory (adapter_config.json, adapter_model.safetensors)");
}

LoraAdapter read_adapter_option(const std::string& dir, const LoadedModel& m) {
  GPT2_CHECK(fs::is_directory(dir), "--adapter: '", dir, "' is not a directory");
  GPT2_CHECK(fs::exists(fs::path(dir) / kAdapterConfigFile), "--adapter: '", dir, "' has no ",
             kAdapterConfigFile, " (not a LoRA adapter directory)");
  try {
    return read_lora_adapter(dir, m.model->config());
  } catch (const Error& e) {
    fail("--adapter: ", e.what(), " (model '", m.dir.string(), "')");
  }
}

std::unique_ptr<LoraModel> apply_adapter_option(const ArgParser& p, LoadedModel& m, bool allow_head) {
  if (!p.given("--adapter")) return nullptr;
  return apply_adapter(p.get("--adapter"), m, allow_head);
}

std::unique_ptr<LoraModel> apply_adapter(const std::string& dir, LoadedModel& m, bool allow_head) {
  GPT2_CHECK(m.weights == WeightFormat::f32, "--adapter: LoRA computes in float32; run with --weights f32");
  const LoraAdapter a = read_adapter_option(dir, m);
  GPT2_CHECK(allow_head || !a.config.has_score_head(), "--adapter: '", dir,
             "' is a classifier's adapter (task_type ", a.config.task_type,
             "); use it with 'gpt2 classify --adapter'");
  auto lora = std::make_unique<LoraModel>(*m.model, a);
  // The adapter's factors went into the model's buffer, which moved (attach_parameters): a
  // WeightFormatBackend's decode copies (f32, chapter 08) are keyed by the old addresses.
  if (auto* formats = dynamic_cast<WeightFormatBackend*>(&m.model->backend()))
    formats->convert_weights(*m.model);
  return lora;
}

}  // namespace gpt2
