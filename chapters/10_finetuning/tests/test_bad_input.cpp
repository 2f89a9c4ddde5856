// The parsers of chapter 10 on broken and hostile input: a valid file mutated thousands of ways
// (bytes flipped, inserted, deleted, the file cut short), nested very deep, or very large. Each
// call must either succeed or throw gpt2::Error; anything else (another exception, a crash, a
// hang) fails the test. The same functions are entry points for a fuzzer.
#include <string>
#include <vector>

#include "chapters/05_gpt2_model/config.h"
#include "chapters/10_finetuning/jsonl.h"
#include "chapters/10_finetuning/lora_adapter.h"
#include "common/error.h"
#include "common/rng.h"
#include "common/safetensors.h"
#include "tests/catch.h"

namespace {

// Calls f(input) and reports anything that is not success or gpt2::Error.
template <typename F>
void expect_error_or_success(const std::string& input, F f, int& errors) {
  try {
    f(input);
  } catch (const gpt2::Error&) {
    ++errors;
  } catch (const std::exception& e) {
    FAIL_CHECK("not a gpt2::Error: " << e.what() << " for input of " << input.size() << " bytes");
  }
}

// `n` mutations of `valid`, the same ones every run.
std::vector<std::string> mutations(const std::string& valid, int n, uint64_t seed) {
  const std::string alphabet = "{}[]\":,0123456789.eE-+ \\ntfalsenull\xff\xc3\x80";
  gpt2::Rng rng(seed);
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    std::string s = valid;
    const int edits = 1 + static_cast<int>(rng.below(4));
    for (int k = 0; k < edits && !s.empty(); ++k) {
      const size_t at = rng.below(static_cast<uint32_t>(s.size()));
      switch (rng.below(5)) {
        case 0:
          s[at] = alphabet[rng.below(static_cast<uint32_t>(alphabet.size()))];
          break;
        case 1:
          s.insert(at, 1, alphabet[rng.below(static_cast<uint32_t>(alphabet.size()))]);
          break;
        case 2:
          s.erase(at, 1 + rng.below(8));
          break;
        case 3:
          s.resize(at);
          break;
        default:
          s.insert(at, s.substr(at, rng.below(16)));
          break;
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

const std::string kAdapterConfig =
    R"({"peft_type": "LORA", "r": 2, "lora_alpha": 4, "target_modules": ["c_attn", "mlp.c_proj"],
        "layers_to_transform": [0, 1], "rank_pattern": {"h.0.attn.c_attn": 1}, "alpha_pattern": {},
        "use_rslora": false, "fan_in_fan_out": true, "bias": "none", "task_type": "CAUSAL_LM",
        "modules_to_save": null, "base_model_name_or_path": "x"})";

const std::string kInstructions =
    "{\"instruction\": \"Who speaks last?\", \"input\": \"A:\\nhi\\n\\nB:\\nho\", \"output\": \"B\"}\n"
    "{\"instruction\": \"Add\", \"output\": \"5\"}\n";

}  // namespace

TEST_CASE("mutated adapter configs, datasets and dropout configs: a result or one gpt2::Error",
          "[errors][robust]") {
  gpt2::GPT2Config base = gpt2::GPT2Config::make(2, 2, 8, 16, 50);
  int errors = 0;
  for (const std::string& s : mutations(kAdapterConfig, 3000, 1)) {
    expect_error_or_success(
        s,
        [&](const std::string& text) {
          gpt2::LoraConfig c = gpt2::parse_adapter_config(text, "adapter_config.json");
          gpt2::lora_targets(c, base, "adapter_config.json");
        },
        errors);
  }
  for (const std::string& s : mutations(kInstructions, 3000, 2)) {
    expect_error_or_success(
        s, [](const std::string& t) { gpt2::parse_instruction_data(t, "d.jsonl"); }, errors);
    expect_error_or_success(
        s, [](const std::string& t) { gpt2::parse_labeled_texts(t, "d.jsonl"); }, errors);
  }
  for (const std::string& s : mutations(R"({"n_layer": 2, "n_head": 2, "n_embd": 8, "n_positions": 16,
                                           "vocab_size": 50, "embd_pdrop": 0.1, "attn_pdrop": 0.0,
                                           "resid_pdrop": 0.2})",
                                        1000, 3))
    expect_error_or_success(
        s, [](const std::string& t) { gpt2::parse_config_json(t, "config.json"); }, errors);
  CHECK(errors > 1000);  // most mutations break the input; the test is not vacuous
}

TEST_CASE("mutated adapter weights: a result or one gpt2::Error", "[errors][robust]") {
  gpt2::GPT2Config base = gpt2::GPT2Config::make(2, 2, 8, 16, 50);
  gpt2::LoraConfig c;
  c.r = 2;
  gpt2::LoraAdapter a = gpt2::LoraAdapter::create(c, base, 1);
  gpt2::SafetensorsWriter w;
  for (const auto& l : a.layers) {
    w.add(gpt2::peft_lora_tensor_name(l.target, 'A'), l.A);
    w.add(gpt2::peft_lora_tensor_name(l.target, 'B'), l.B);
  }
  const std::string config = gpt2::adapter_config_to_json(c);
  int errors = 0;
  for (const std::string& s : mutations(w.serialize(), 2000, 4)) {
    expect_error_or_success(
        s,
        [&](const std::string& bytes) {
          gpt2::parse_lora_adapter(config, "adapter_config.json", bytes, "adapter_model.safetensors", base);
        },
        errors);
  }
  CHECK(errors > 500);
}

TEST_CASE("deep nesting, huge values, a huge adapter_config.json", "[errors][robust]") {
  using Catch::Contains;
  const std::string deep(200000, '[');
  CHECK_THROWS_AS(gpt2::parse_instruction_data(deep, "d.jsonl"), gpt2::Error);
  const std::string deep_value =
      "{\"instruction\": " + std::string(100000, '[') + std::string(100000, ']') + ", \"output\": \"x\"}";
  CHECK_THROWS_WITH(gpt2::parse_instruction_data(deep_value, "d.jsonl"),
                    "d.jsonl:1: field 'instruction' must be a string, got a list of 1 values");
  const std::string long_string = "{\"instruction\": 1" + std::string(1000000, '0') + ", \"output\": \"x\"}";
  CHECK_THROWS_AS(gpt2::parse_instruction_data(long_string, "d.jsonl"), gpt2::Error);
  CHECK_THROWS_WITH(gpt2::parse_config_json(R"({"n_layer": 2, "n_head": 2, "n_embd": 8, "n_positions": 16,
                                               "vocab_size": 50, "attn_pdrop": )" +
                                                std::string(50000, '[') + std::string(50000, ']') + "}",
                                            "c"),
                    Contains("got a list of 1 values"));
  std::string big = R"({"peft_type": "LORA", "rank_pattern": {)";
  for (int i = 0; i < 20000; ++i) big += "\"k" + std::to_string(i) + "\": 1, ";
  big += "\"end\": 1}}";
  CHECK_THROWS_WITH(
      gpt2::parse_adapter_config(big, "adapter_config.json"),
      Contains("adapter_config.json: ") && Contains("bytes; an adapter_config.json has at most 65536"));
}
