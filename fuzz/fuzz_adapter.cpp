// Fuzz target: what chapter 10 reads besides a base model. The first byte chooses:
//  - even: a LoRA adapter directory as `--adapter DIR` reads it (lora_adapter.h): the bytes after
//    it are adapter_config.json, then (after a NUL byte) labels.json (empty: none), then (after
//    another NUL) adapter_model.safetensors, read for a base model of 2 blocks and 8 channels. An adapter
//    that loads has one pair of finite factors per layer its configuration adapts, with the layer's shapes;
//    its configuration writes and parses back to the same layers; the adapter writes and reads back to the
//    same bits, and merges into the base model's weights.
//  - odd: a classifier directory as `gpt2 classify --model DIR` reads it (sequence_classifier.h):
//    config.json, then (after a NUL byte) model.safetensors. A head that loads is (K, n_embd),
//    finite, with one non-empty name per class.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "chapters/05_gpt2_model/config.h"
#include "chapters/05_gpt2_model/parameters.h"
#include "chapters/10_finetuning/finetune_model.h"
#include "chapters/10_finetuning/lora_adapter.h"
#include "chapters/10_finetuning/lora_config.h"
#include "chapters/10_finetuning/sequence_classifier.h"
#include "fuzz/fuzz_util.h"

namespace {

bool same_bits(const gpt2::Tensor& a, const gpt2::Tensor& b) {
  return a.shape() == b.shape() &&
         std::equal(a.span().begin(), a.span().end(), b.span().begin(),
                    [](float x, float y) { return std::memcmp(&x, &y, sizeof x) == 0; });
}

bool same_targets(const std::vector<gpt2::LoraTarget>& a, const std::vector<gpt2::LoraTarget>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].path() != b[i].path() || a[i].in != b[i].in || a[i].out != b[i].out || a[i].r != b[i].r ||
        a[i].scaling != b[i].scaling)
      return false;
  }
  return true;
}

void check_adapter(std::string_view input) {
  static const gpt2::GPT2Config base = gpt2::GPT2Config::make(2, 2, 8, 8, 16);
  const auto [config_text, rest] = gpt2_fuzz::split_at_nul(input);
  const auto [labels, weights] = gpt2_fuzz::split_at_nul(rest);
  gpt2::LoraAdapter a;
  try {
    a = gpt2::parse_lora_adapter(config_text, "adapter_config.json", std::string(weights),
                                 "adapter_model.safetensors", base);
  } catch (const gpt2::Error& e) {
    // One error, naming the file at fault.
    const std::string_view message = e.what();
    FUZZ_CHECK(message.starts_with("adapter_config.json") ||
               message.starts_with("adapter_model.safetensors"));
    return;
  }
  std::vector<gpt2::LoraTarget> targets;
  for (const gpt2::LoraLayer& l : a.layers) {
    const gpt2::LoraTarget& t = l.target;
    FUZZ_CHECK(t.r >= 1 && t.r <= std::min(t.in, t.out) && std::isfinite(t.scaling));
    FUZZ_CHECK(l.A.shape() == gpt2::Shape({t.r, t.in}) && l.B.shape() == gpt2::Shape({t.out, t.r}));
    for (float v : l.A.span()) FUZZ_CHECK(std::isfinite(v));
    for (float v : l.B.span()) FUZZ_CHECK(std::isfinite(v));
    targets.push_back(t);
  }
  FUZZ_CHECK(same_targets(targets, gpt2::lora_targets(a.config, base, "adapter_config.json")));
  FUZZ_CHECK(a.config.has_score_head() == (a.score.dim() == 2));
  if (a.score.dim() == 2) {
    FUZZ_CHECK(a.score.shape()[0] >= 1 && a.score.shape()[1] == base.n_embd);
    for (float v : a.score.span()) FUZZ_CHECK(std::isfinite(v));
  }
  // The configuration as we write it adapts the same layers the same way.
  const gpt2::LoraConfig rewritten =
      gpt2::parse_adapter_config(gpt2::adapter_config_to_json(a.config), "rewritten adapter_config.json");
  FUZZ_CHECK(same_targets(targets, gpt2::lora_targets(rewritten, base, "rewritten adapter_config.json")));
  FUZZ_CHECK(rewritten.has_score_head() == a.config.has_score_head());

  // Written and read back: the same bits.
  const std::filesystem::path dir = gpt2_fuzz::scratch_dir() / "adapter";
  std::filesystem::remove_all(dir);
  gpt2::write_lora_adapter(dir, a);
  const gpt2::LoraAdapter b = gpt2::read_lora_adapter(dir, base);
  FUZZ_CHECK(b.layers.size() == a.layers.size());
  for (size_t i = 0; i < a.layers.size(); ++i)
    FUZZ_CHECK(same_bits(a.layers[i].A, b.layers[i].A) && same_bits(a.layers[i].B, b.layers[i].B));
  FUZZ_CHECK(a.score.dim() != 2 || same_bits(a.score, b.score));

  // Merged into the base model's weights (the factors index the right matrices).
  const gpt2::ParameterLayout layout(base);
  std::vector<float> params(static_cast<size_t>(layout.num_parameters()), 0.0f);
  gpt2::merge_lora_adapter(a, layout, params);

  // labels.json, as a LoRA classifier's directory keeps it beside PEFT's files.
  if (!labels.empty()) {
    gpt2_fuzz::write_bytes(dir / gpt2::kAdapterLabelsFile, labels);
    try {
      for (const std::string& l : gpt2::read_adapter_labels(dir)) FUZZ_CHECK(!l.empty());
    } catch (const gpt2::Error& e) {
      FUZZ_CHECK(std::string_view(e.what()).find(gpt2::kAdapterLabelsFile) != std::string_view::npos);
    }
  }
}

void check_classifier_dir(std::string_view input) {
  const auto [config_text, weights] = gpt2_fuzz::split_at_nul(input);
  const std::filesystem::path dir = gpt2_fuzz::scratch_dir() / "classifier";
  std::filesystem::create_directories(dir);
  gpt2_fuzz::write_bytes(dir / "config.json", config_text);
  gpt2_fuzz::write_bytes(dir / "model.safetensors", weights);
  try {
    // As `gpt2 classify --model DIR` reads it: the configuration, then the head for that shape.
    const gpt2::GPT2Config config = gpt2::parse_config_json(std::string(config_text), "config.json");
    if (!gpt2::is_classifier_dir(dir)) return;
    const gpt2::ClassifierHead head = gpt2::read_classifier_head(dir, config);
    FUZZ_CHECK(head.score.dim() == 2 && head.score.shape()[1] == config.n_embd);
    FUZZ_CHECK(static_cast<int64_t>(head.labels.size()) == head.score.shape()[0] && !head.labels.empty());
    for (const std::string& l : head.labels) FUZZ_CHECK(!l.empty());
    for (float v : head.score.span()) FUZZ_CHECK(std::isfinite(v));
    FUZZ_CHECK(head.pad_token_id >= -1 && head.pad_token_id < config.vocab_size);
  } catch (const gpt2::Error& e) {
    const std::string_view message = e.what();
    FUZZ_CHECK(message.find("config.json") != std::string_view::npos ||
               message.find("model.safetensors") != std::string_view::npos);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0)
    check_adapter(input);
  else
    check_classifier_dir(input);
  return 0;
}
