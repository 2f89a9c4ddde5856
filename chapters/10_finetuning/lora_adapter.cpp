#include "chapters/10_finetuning/lora_adapter.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "chapters/05_gpt2_model/hf_checkpoint.h"
#include "chapters/10_finetuning/classifier_head.h"
#include "chapters/10_finetuning/lora.h"
#include "common/error.h"
#include "common/file_io.h"
#include "common/rng.h"
#include "common/safetensors.h"

namespace gpt2 {

namespace {

// The PeftModel's prefix for a GPT2LMHeadModel or GPT2ForSequenceClassification (whose blocks are
// under `transformer.`), and for a bare GPT2Model.
constexpr std::string_view kPeftPrefix = "base_model.model.transformer.";
constexpr std::string_view kPeftBarePrefix = "base_model.model.";

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// Why a tensor of the file belongs to no adapted layer, as helpfully as its name allows.
std::string why_unexpected(const std::string& key, const GPT2Config& base) {
  if (key.find(".default.") != std::string::npos)
    return " (it keeps PEFT's adapter name \"default\", which PEFT removes when it saves an adapter)";
  const size_t h = key.find("h.");
  if (h != std::string::npos && (h == 0 || key[h - 1] == '.')) {
    size_t end = h + 2;
    int64_t layer = 0;
    while (end < key.size() && end < h + 12 && key[end] >= '0' && key[end] <= '9')
      layer = layer * 10 + (key[end++] - '0');
    if (end > h + 2 && layer >= base.n_layer)
      return cat(" (it names block ", layer, ", but the base model has ", base.n_layer,
                 " blocks: is the adapter for another base model?)");
  }
  return " (adapter_config.json adapts no layer of that name)";
}

Tensor read_checked(const SafetensorsFile& file, const std::string& key, const Shape& expected,
                    const std::string& shape_hint) {
  GPT2_CHECK(file.contains(key), file.file_name(), ": missing tensor '", key, "'", shape_hint);
  const TensorInfo& info = file.info(key);
  GPT2_CHECK(info.shape == expected, file.file_name(), ": tensor '", key, "' has shape ",
             shape_to_string(info.shape), ", expected ", shape_to_string(expected), shape_hint,
             ": is the adapter for another base model?");
  Tensor t = file.get(key);
  for (float v : t.span()) GPT2_CHECK(std::isfinite(v), file.file_name(), ": tensor '", key, "' holds ", v);
  return t;
}

}  // namespace

std::string peft_lora_tensor_name(const LoraTarget& target, char which) {
  return cat(kPeftPrefix, target.path(), ".lora_", which, ".weight");
}

std::string peft_score_tensor_name() {
  return cat(kPeftBarePrefix, "score.weight");
}

LoraAdapter LoraAdapter::create(const LoraConfig& config, const GPT2Config& base, uint64_t seed,
                                int num_labels) {
  LoraAdapter a;
  a.config = config;
  // A head is saved as PEFT saves a sequence classifier's: listed in modules_to_save under the
  // two names PEFT gives every classifier head.
  const bool head = num_labels > 0 || a.config.has_score_head();
  if (head && std::find(a.config.modules_to_save.begin(), a.config.modules_to_save.end(), "score") ==
                  a.config.modules_to_save.end()) {
    a.config.modules_to_save.push_back("classifier");
    a.config.modules_to_save.push_back("score");
  }
  Rng rng(seed);
  for (const LoraTarget& t : lora_targets(config, base, "LoRA configuration")) {
    LoraLayer layer{t, Tensor({t.r, t.in}), Tensor({t.out, t.r})};
    const float bound = 1.0f / std::sqrt(static_cast<float>(t.in));
    rng.fill_uniform(layer.A.span(), -bound, bound);
    a.layers.push_back(std::move(layer));  // B stays zero: the adapted model starts as the base model
  }
  if (a.config.has_score_head()) {
    GPT2_CHECK(num_labels > 0, "LoRA configuration: a ", a.config.task_type,
               " adapter needs a classification head: give the number of labels");
    a.score = Tensor({num_labels, base.n_embd});
    classifier_head_init(a.score.data(), num_labels, base.n_embd, rng.next_u32());
  }
  return a;
}

int64_t LoraAdapter::num_parameters() const {
  int64_t n = 0;
  for (const LoraLayer& l : layers) n += l.A.numel() + l.B.numel();
  return n + (score.dim() == 2 ? score.numel() : 0);
}

LoraAdapter parse_lora_adapter(std::string_view config_text, const std::string& config_name,
                               std::string weights_bytes, const std::string& weights_name,
                               const GPT2Config& base) {
  LoraAdapter a;
  a.config = parse_adapter_config(config_text, config_name);
  const std::vector<LoraTarget> targets = lora_targets(a.config, base, config_name);
  const SafetensorsFile file = SafetensorsFile::parse(std::move(weights_bytes), weights_name);

  // PEFT's names for a GPT2LMHeadModel, or (if the file has no such name) for a bare GPT2Model.
  std::string prefix(kPeftPrefix);
  bool any_full = false, any_bare = false;
  for (const std::string& key : file.names()) {
    any_full = any_full || starts_with(key, kPeftPrefix);
    any_bare = any_bare || starts_with(key, cat(kPeftBarePrefix, "h."));
  }
  if (!any_full && any_bare) prefix = std::string(kPeftBarePrefix);

  std::set<std::string> used;
  for (const LoraTarget& t : targets) {
    const std::string hint =
        cat(" (", config_name, " adapts ", t.path(), ", ", t.in, " -> ", t.out, ", with r = ", t.r, ")");
    const std::string a_key = cat(prefix, t.path(), ".lora_A.weight"),
                      b_key = cat(prefix, t.path(), ".lora_B.weight");
    LoraLayer layer{t, read_checked(file, a_key, {t.r, t.in}, hint),
                    read_checked(file, b_key, {t.out, t.r}, hint)};
    used.insert(a_key);
    used.insert(b_key);
    a.layers.push_back(std::move(layer));
  }
  if (a.config.has_score_head()) {
    const std::string key = peft_score_tensor_name();
    GPT2_CHECK(file.contains(key), weights_name, ": missing tensor '", key,
               "' (the classification head of a ",
               a.config.task_type.empty() ? "SEQ_CLS" : a.config.task_type, " adapter)");
    const Shape& shape = file.info(key).shape;
    GPT2_CHECK(shape.size() == 2 && shape[0] >= 1 && shape[1] == base.n_embd, weights_name, ": tensor '", key,
               "' has shape ", shape_to_string(shape), ", expected [num_labels, ", base.n_embd,
               "] (n_embd of the base model): is the adapter for another base model?");
    a.score = read_checked(file, key, shape, "");
    used.insert(key);
  }
  for (const std::string& key : file.names()) {
    GPT2_CHECK(used.count(key), weights_name, ": unexpected tensor '", key, "'", why_unexpected(key, base));
  }
  return a;
}

LoraAdapter read_lora_adapter(const std::filesystem::path& dir, const GPT2Config& base) {
  const std::filesystem::path config = dir / kAdapterConfigFile, weights = dir / kAdapterWeightsFile;
  GPT2_CHECK(std::filesystem::is_directory(dir), "adapter '", dir.string(), "' is not a directory");
  GPT2_CHECK(std::filesystem::exists(config), "adapter '", dir.string(), "' has no ", kAdapterConfigFile);
  GPT2_CHECK(std::filesystem::exists(weights), "adapter '", dir.string(), "' has no ", kAdapterWeightsFile);
  return parse_lora_adapter(read_file(config), config.string(), read_file(weights), weights.string(), base);
}

void write_lora_adapter(const std::filesystem::path& dir, const LoraAdapter& adapter) {
  gpt2::create_directories(dir);
  SafetensorsWriter w;
  for (const LoraLayer& l : adapter.layers) {
    w.add(peft_lora_tensor_name(l.target, 'A'), l.A);
    w.add(peft_lora_tensor_name(l.target, 'B'), l.B);
  }
  if (adapter.score.dim() == 2) w.add(peft_score_tensor_name(), adapter.score);
  w.set_metadata("format", "pt");
  w.write(dir / kAdapterWeightsFile);
  write_file_atomic(dir / kAdapterConfigFile, adapter_config_to_json(adapter.config));
}

void merge_lora_adapter(const LoraAdapter& adapter, const ParameterLayout& layout, std::span<float> params) {
  GPT2_CHECK(static_cast<int64_t>(params.size()) == layout.num_parameters(),
             "merge_lora_adapter: ", params.size(), " parameters, the layout has ", layout.num_parameters());
  for (const LoraLayer& l : adapter.layers) {
    const LoraTarget& t = l.target;
    const ParamSpec& spec = layout.find(t.path() + ".weight");
    GPT2_CHECK(spec.shape == Shape({t.in, t.out}), "merge_lora_adapter: ", spec.name, " has shape ",
               shape_to_string(spec.shape), ", the adapter expects [", t.in, ", ", t.out, "]");
    lora_merge(params.data() + spec.offset, l.A.data(), l.B.data(), t.scaling, t.in, t.out, t.r);
  }
}

void merge_lora_adapter_dir(const std::filesystem::path& base_dir, const std::filesystem::path& adapter_dir,
                            const std::filesystem::path& out_dir) {
  GPT2_CHECK(!std::filesystem::exists(out_dir) || std::filesystem::is_empty(out_dir), "'", out_dir.string(),
             "' already exists and is not empty: choose a new directory for the merged model");
  HFModel model = read_hf_model_dir(base_dir);
  const LoraAdapter adapter = read_lora_adapter(adapter_dir, model.config);
  GPT2_CHECK(!adapter.config.has_score_head(), "adapter '", adapter_dir.string(),
             "' carries a classification head; merging makes a language model, which has no place for it");
  merge_lora_adapter(adapter, ParameterLayout(model.config), model.params.span());
  write_hf_model_dir(out_dir, model.config, model.params.span(),
                     has_tokenizer_files(base_dir) ? base_dir : std::filesystem::path());
}

}  // namespace gpt2
