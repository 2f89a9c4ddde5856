// Tests of chapter 10's PEFT adapter files: adapters written by tests/reference/10_lora_adapter.py
// in PEFT's layout load and, merged into the tiny base model, give the script's logits; what we
// write PEFT's loader would find under the same names; every kind of bad adapter gets one clear
// error.
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "chapters/05_gpt2_model/gpt2.h"
#include "chapters/05_gpt2_model/hf_checkpoint.h"
#include "chapters/10_finetuning/classifier_head.h"
#include "chapters/10_finetuning/lora_adapter.h"
#include "common/file_io.h"
#include "common/rng.h"
#include "common/safetensors.h"
#include "common/testing.h"
#include "tests/catch.h"

namespace fs = std::filesystem;

namespace {

fs::path fixtures() {
  return fs::path(gpt2::fixture_dir());
}

gpt2::GPT2Config tiny_config() {
  return gpt2::read_config_json(fixtures() / "05_hf_tiny" / "config.json");
}

// A fresh, empty directory under the build's temporary folder.
fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("gpt2_test_10_" + name);
  fs::remove_all(d);
  return d;
}

void check_rel(std::span<const float> ours, std::span<const float> ref, double tol, const std::string& what) {
  auto r = gpt2::rel_close(ours, ref, tol, what);
  INFO(r.message);
  CHECK(r.ok);
}

// The logits (B, T, V) of a model directory on the fixture's tokens, through chapter 05's model.
std::vector<float> logits_of(const fs::path& model_dir, const std::vector<int>& tokens, int B, int T) {
  gpt2::CpuBackend cpu;
  gpt2::GPT2 model = gpt2::GPT2::load(model_dir, cpu);
  model.forward(tokens.data(), nullptr, B, T);
  auto l = model.logits();
  return std::vector<float>(l.begin(), l.end());
}

std::vector<int> fixture_tokens(const gpt2::SafetensorsFile& f) {
  std::vector<int64_t> t = f.get_int("tokens");
  return std::vector<int>(t.begin(), t.end());
}

}  // namespace

TEST_CASE("PEFT-layout adapters load with PEFT's targets, ranks and scales", "[lora][peft]") {
  const gpt2::GPT2Config base = tiny_config();
  SECTION("c_attn and c_proj: 'c_proj' adapts both c_proj layers of each block") {
    gpt2::LoraAdapter a = gpt2::read_lora_adapter(fixtures() / "10_peft_adapter", base);
    std::vector<std::string> paths;
    for (const auto& l : a.layers) {
      paths.push_back(l.target.path());
      CHECK(l.target.r == 4);
      CHECK(l.target.scaling == 2.0f);  // alpha 8 / r 4
      CHECK(l.A.shape() == gpt2::Shape{4, l.target.in});
      CHECK(l.B.shape() == gpt2::Shape{l.target.out, 4});
    }
    CHECK(paths == std::vector<std::string>{"h.0.attn.c_attn", "h.0.attn.c_proj", "h.0.mlp.c_proj",
                                            "h.1.attn.c_attn", "h.1.attn.c_proj", "h.1.mlp.c_proj"});
    CHECK(a.config.task_type == "CAUSAL_LM");
    CHECK(a.score.dim() == 1);  // no head
    // r (in + out) per layer: c_attn 4 (64 + 192), attn.c_proj 4 (64 + 64), mlp.c_proj 4 (256 + 64).
    CHECK(a.num_parameters() == 2 * (4 * 256 + 4 * 128 + 4 * 320));
  }
  SECTION("rsLoRA, rank_pattern, alpha_pattern, layers_to_transform, BF16 tensors") {
    gpt2::LoraAdapter a = gpt2::read_lora_adapter(fixtures() / "10_peft_adapter_rs", base);
    REQUIRE(a.layers.size() == 2);
    CHECK(a.layers[0].target.path() == "h.1.attn.c_attn");
    CHECK(a.layers[0].target.r == 2);
    CHECK(a.layers[0].target.scaling == Approx(4.0 / std::sqrt(2.0)).epsilon(1e-7));
    CHECK(a.layers[1].target.path() == "h.1.mlp.c_fc");
    CHECK(a.layers[1].target.r == 3);
    CHECK(a.layers[1].target.scaling == Approx(6.0 / std::sqrt(3.0)).epsilon(1e-7));
  }
  SECTION("a classifier's adapter carries its score head") {
    gpt2::LoraAdapter a = gpt2::read_lora_adapter(fixtures() / "10_peft_adapter_cls", base);
    CHECK(a.config.task_type == "SEQ_CLS");
    CHECK(a.config.has_score_head());
    CHECK(a.score.shape() == gpt2::Shape{3, 64});
    CHECK(a.layers.size() == 2);
    CHECK(a.num_parameters() == 2 * 4 * (64 + 192) + 3 * 64);
  }
}

TEST_CASE("a PEFT adapter merged into the base model gives the script's logits", "[lora][peft][parity]") {
  const auto f = gpt2::SafetensorsFile::open(fixtures() / "10_peft_logits.safetensors");
  const std::vector<int> tokens = fixture_tokens(f);
  const int B = 2, T = 12;
  // The base model first, so that a failure below is the adapter's and not the model's.
  check_rel(logits_of(fixtures() / "05_hf_tiny", tokens, B, T), f.get_vector("logits_base"), 1e-5,
            "base logits");
  for (auto [adapter, expected] :
       {std::pair{"10_peft_adapter", "logits_lora"}, std::pair{"10_peft_adapter_rs", "logits_lora_rs"}}) {
    SECTION(adapter) {
      const fs::path out = temp_dir(std::string("merged_") + adapter);
      gpt2::merge_lora_adapter_dir(fixtures() / "05_hf_tiny", fixtures() / adapter, out);
      check_rel(logits_of(out, tokens, B, T), f.get_vector(expected), 1e-5, "logits of the merged model");
      fs::remove_all(out);
    }
  }
  SECTION("the merged weight is PEFT's W + transpose(B A) * scaling") {
    gpt2::HFModel model = gpt2::read_hf_model_dir(fixtures() / "05_hf_tiny");
    gpt2::LoraAdapter a = gpt2::read_lora_adapter(fixtures() / "10_peft_adapter", model.config);
    gpt2::ParameterLayout layout(model.config);
    gpt2::merge_lora_adapter(a, layout, model.params.span());
    check_rel(layout.view(model.params, "h.0.attn.c_attn.weight").to_vector(),
              f.get_vector("merged_h0_c_attn"), 1e-6, "merged h.0.attn.c_attn.weight");
  }
  SECTION("the classifier: merged LoRA, then the score head on the last tokens") {
    gpt2::HFModel model = gpt2::read_hf_model_dir(fixtures() / "05_hf_tiny");
    gpt2::LoraAdapter a = gpt2::read_lora_adapter(fixtures() / "10_peft_adapter_cls", model.config);
    gpt2::merge_lora_adapter(a, gpt2::ParameterLayout(model.config), model.params.span());
    const fs::path out = temp_dir("merged_cls");
    gpt2::write_hf_model_dir(out, model.config, model.params.span());
    gpt2::CpuBackend cpu;
    gpt2::GPT2 gpt = gpt2::GPT2::load(out, cpu);
    gpt.forward(tokens.data(), nullptr, B, T);
    std::vector<int64_t> last64 = f.get_int("last");
    std::vector<int> last(last64.begin(), last64.end());
    std::vector<float> logits(B * 3), pooled(B * 64);
    gpt2::classifier_forward(logits.data(), pooled.data(), gpt.activations().lnf, last.data(), a.score.data(),
                             B, T, 64, 3);
    check_rel(logits, f.get_vector("class_logits"), 1e-5, "class logits");
    fs::remove_all(out);
  }
}

TEST_CASE("adapters we write carry PEFT's names and config, and read back exactly", "[lora][peft]") {
  const gpt2::GPT2Config base = tiny_config();
  gpt2::LoraConfig c;
  c.r = 3;
  c.lora_alpha = 6;
  c.target_modules = {"c_attn", "mlp.c_fc"};
  c.task_type = "SEQ_CLS";
  c.base_model_name_or_path = "models/tiny";
  gpt2::LoraAdapter a = gpt2::LoraAdapter::create(c, base, 42, 4);
  REQUIRE(a.layers.size() == 4);
  // PEFT's initialisation: A uniform in [-1/sqrt(in), 1/sqrt(in)], B = 0.
  for (const auto& l : a.layers) {
    const float bound = 1.0f / std::sqrt(static_cast<float>(l.target.in));
    for (float v : l.A.span()) CHECK((v >= -bound && v < bound));
    for (float v : l.B.span()) CHECK(v == 0.0f);
  }
  CHECK(a.score.shape() == gpt2::Shape{4, 64});
  gpt2::Rng rng(3);
  for (auto& l : a.layers) rng.fill_normal(l.B.span());  // as if trained
  const fs::path dir = temp_dir("written_adapter");
  gpt2::write_lora_adapter(dir, a);

  const auto file = gpt2::SafetensorsFile::open(dir / gpt2::kAdapterWeightsFile);
  CHECK(file.names() == std::vector<std::string>{"base_model.model.score.weight",
                                                 "base_model.model.transformer.h.0.attn.c_attn.lora_A.weight",
                                                 "base_model.model.transformer.h.0.attn.c_attn.lora_B.weight",
                                                 "base_model.model.transformer.h.0.mlp.c_fc.lora_A.weight",
                                                 "base_model.model.transformer.h.0.mlp.c_fc.lora_B.weight",
                                                 "base_model.model.transformer.h.1.attn.c_attn.lora_A.weight",
                                                 "base_model.model.transformer.h.1.attn.c_attn.lora_B.weight",
                                                 "base_model.model.transformer.h.1.mlp.c_fc.lora_A.weight",
                                                 "base_model.model.transformer.h.1.mlp.c_fc.lora_B.weight"});
  CHECK(file.info("base_model.model.transformer.h.0.mlp.c_fc.lora_A.weight").shape == gpt2::Shape{3, 64});
  CHECK(file.info("base_model.model.transformer.h.0.mlp.c_fc.lora_B.weight").shape == gpt2::Shape{256, 3});
  CHECK(file.metadata().at("format") == "pt");

  const auto json = nlohmann::json::parse(gpt2::read_file(dir / gpt2::kAdapterConfigFile));
  CHECK(json["peft_type"] == "LORA");
  CHECK(json["r"] == 3);
  CHECK(json["lora_alpha"] == 6);
  CHECK(json["lora_alpha"].is_number_integer());
  CHECK(json["target_modules"] == nlohmann::json({"c_attn", "mlp.c_fc"}));
  CHECK(json["fan_in_fan_out"] == true);
  CHECK(json["bias"] == "none");
  CHECK(json["task_type"] == "SEQ_CLS");
  CHECK(json["modules_to_save"] == nlohmann::json({"classifier", "score"}));
  CHECK(json["base_model_name_or_path"] == "models/tiny");

  gpt2::LoraAdapter back = gpt2::read_lora_adapter(dir, base);
  REQUIRE(back.layers.size() == a.layers.size());
  for (size_t i = 0; i < a.layers.size(); ++i) {
    CHECK(back.layers[i].target.path() == a.layers[i].target.path());
    CHECK(back.layers[i].A.to_vector() == a.layers[i].A.to_vector());
    CHECK(back.layers[i].B.to_vector() == a.layers[i].B.to_vector());
  }
  CHECK(back.score.to_vector() == a.score.to_vector());
  CHECK(back.config.r == 3);
  CHECK(back.config.lora_alpha == 6);
  fs::remove_all(dir);
}

TEST_CASE("LoRA with B = 0 merges to exactly the base weights; parameter counts", "[lora]") {
  gpt2::HFModel model = gpt2::read_hf_model_dir(fixtures() / "05_hf_tiny");
  const std::vector<float> before = model.params.to_vector();
  gpt2::LoraConfig c;
  c.target_modules = {"c_attn", "c_proj", "c_fc"};
  c.r = 8;
  gpt2::LoraAdapter a = gpt2::LoraAdapter::create(c, model.config, 1);
  gpt2::merge_lora_adapter(a, gpt2::ParameterLayout(model.config), model.params.span());
  CHECK(model.params.to_vector() == before);
  // GPT-2 124M with rank 8 on c_attn: 12 * 8 * (768 + 2304) = 294,912 (PEFT reports the same).
  gpt2::LoraConfig attn;
  attn.r = 8;
  CHECK(gpt2::lora_parameter_count(gpt2::lora_targets(attn, gpt2::GPT2Config::from_name("gpt2"), "test")) ==
        294912);
}

namespace {

// An adapter for the tiny model, as file contents, for the error cases: config text and weights.
struct AdapterFiles {
  std::string config;
  gpt2::SafetensorsWriter weights;
};

AdapterFiles valid_files(const std::string& config_fields = "") {
  AdapterFiles f;
  f.config =
      R"({"peft_type": "LORA", "r": 2, "lora_alpha": 4, "target_modules": ["c_attn"])" + config_fields + "}";
  for (int i = 0; i < 2; ++i) {
    const std::string p = "base_model.model.transformer.h." + std::to_string(i) + ".attn.c_attn.";
    f.weights.add(p + "lora_A.weight", gpt2::Tensor({2, 64}));
    f.weights.add(p + "lora_B.weight", gpt2::Tensor({192, 2}));
  }
  return f;
}

gpt2::LoraAdapter parse(const std::string& config, const std::string& weights, const gpt2::GPT2Config& base) {
  return gpt2::parse_lora_adapter(config, "adapter_config.json", weights, "adapter_model.safetensors", base);
}

gpt2::LoraAdapter parse(AdapterFiles& f, const gpt2::GPT2Config& base) {
  return parse(f.config, f.weights.serialize(), base);
}

}  // namespace

TEST_CASE("bad adapters get one clear error naming the file and the problem", "[lora][peft][errors]") {
  const gpt2::GPT2Config base = tiny_config();
  using Catch::Contains;
  {
    AdapterFiles f = valid_files();
    CHECK(parse(f, base).layers.size() == 2);  // the reference for the cases below
  }
  auto config_error = [&](const std::string& fields, const std::string& message) {
    AdapterFiles f = valid_files(fields);
    CHECK_THROWS_WITH(parse(f, base), Contains("adapter_config.json: ") && Contains(message));
  };
  config_error(R"(, "r": 0)", "'r' (the rank) must be at least 1, got 0");
  config_error(R"(, "r": 2.5)", "'r' (the rank) must be an integer");
  config_error(R"(, "r": 18446744073709551615)", "'r' (the rank) = 18446744073709551615 is out of range");
  config_error(R"(, "r": 65)", "r = 65 is larger than the layer h.0.attn.c_attn (64 -> 192)");
  config_error(R"(, "rank_pattern": {"h.1.attn.c_attn": 100})",
               "r = 100 is larger than the layer h.1.attn.c_attn");
  config_error(R"(, "target_modules": ["c_attn", "q_proj"])",
               "target module 'q_proj' matches no layer of a GPT-2");
  config_error(R"(, "target_modules": ["wte"])", "target module 'wte' matches no layer");
  config_error(R"(, "target_modules": ".*c_attn")", "regular expression, which is not supported");
  config_error(R"(, "target_modules": [])", "'target_modules' is empty");
  config_error(R"(, "target_modules": [3])", "must be a list of module names");
  config_error(R"(, "layers_to_transform": [5])",
               "layers_to_transform lists block 5, but the base model has 2");
  config_error(R"(, "bias": "all")", "only \"none\" is supported");
  config_error(R"(, "use_dora": true)", "use_dora = true is not supported");
  config_error(R"(, "lora_alpha": "big")", "'lora_alpha' must be a number");
  config_error(R"(, "lora_dropout": 1.5)", "'lora_dropout' must be a number in [0, 1)");
  config_error(R"(, "task_type": "SEQ_2_SEQ_LM")", "task_type is \"SEQ_2_SEQ_LM\"");
  config_error(R"(, "modules_to_save": ["ln_f"])", "modules_to_save lists 'ln_f'");
  config_error(R"(, "layers_pattern": "layers")", "names no block of a GPT-2");
  config_error(R"(, "exclude_modules": ["c_attn"])", "no layer is adapted");
  config_error(R"(, "peft_type": "IA3")", "only LoRA adapters");
  {
    AdapterFiles f = valid_files();
    CHECK_THROWS_WITH(parse("{\"peft_type\": \"LORA\", ", f.weights.serialize(), base),
                      Contains("adapter_config.json: not valid JSON"));
    CHECK_THROWS_WITH(parse("[1, 2]", f.weights.serialize(), base), Contains("expected a JSON object"));
    CHECK_THROWS_WITH(parse("{}", f.weights.serialize(), base), Contains("missing 'peft_type'"));
  }
  SECTION("an adapter for another base model: shapes named") {
    AdapterFiles f = valid_files();
    gpt2::GPT2Config other = base;
    other.n_embd = 32;
    CHECK_THROWS_WITH(
        parse(f, other),
        Contains(
            "adapter_model.safetensors: tensor 'base_model.model.transformer.h.0.attn.c_attn.lora_A.weight' "
            "has shape [2, 64], expected [2, 32]") &&
            Contains("is the adapter for another base model?"));
    other = base;
    other.n_layer = 1;
    CHECK_THROWS_WITH(
        parse(f, other),
        Contains("unexpected tensor 'base_model.model.transformer.h.1.attn.c_attn.lora_A.weight'") &&
            Contains("it names block 1, but the base model has 1 blocks"));
  }
  SECTION("missing and extra tensors") {
    AdapterFiles f;
    f.config = valid_files().config;
    f.weights.add("base_model.model.transformer.h.0.attn.c_attn.lora_A.weight", gpt2::Tensor({2, 64}));
    f.weights.add("base_model.model.transformer.h.0.attn.c_attn.lora_B.weight", gpt2::Tensor({192, 2}));
    f.weights.add("base_model.model.transformer.h.1.attn.c_attn.lora_A.weight", gpt2::Tensor({2, 64}));
    CHECK_THROWS_WITH(parse(f, base),
                      Contains("adapter_model.safetensors: missing tensor "
                               "'base_model.model.transformer.h.1.attn.c_attn.lora_B.weight'"));
    AdapterFiles g = valid_files();
    g.weights.add("base_model.model.transformer.h.0.attn.c_attn.lora_A.default.weight",
                  gpt2::Tensor({2, 64}));
    CHECK_THROWS_WITH(parse(g, base), Contains("unexpected tensor") && Contains("adapter name \"default\""));
    AdapterFiles h = valid_files();
    h.weights.add("base_model.model.transformer.h.0.mlp.c_fc.lora_A.weight", gpt2::Tensor({2, 64}));
    CHECK_THROWS_WITH(
        parse(h, base),
        Contains("unexpected tensor 'base_model.model.transformer.h.0.mlp.c_fc.lora_A.weight'") &&
            Contains("adapts no layer of that name"));
  }
  SECTION("a classifier without its head; non-finite values; a broken weights file") {
    AdapterFiles f = valid_files(R"(, "task_type": "SEQ_CLS")");
    CHECK_THROWS_WITH(parse(f, base), Contains("missing tensor 'base_model.model.score.weight'"));
    AdapterFiles g = valid_files(R"(, "task_type": "SEQ_CLS")");
    g.weights.add("base_model.model.score.weight", gpt2::Tensor({3, 32}));
    CHECK_THROWS_WITH(parse(g, base), Contains("has shape [3, 32], expected [num_labels, 64]"));
    AdapterFiles h;
    h.config = valid_files().config;
    std::vector<float> nan_values(2 * 64, 0.0f);
    nan_values[5] = std::nanf("");
    for (int i = 0; i < 2; ++i) {
      const std::string p = "base_model.model.transformer.h." + std::to_string(i) + ".attn.c_attn.";
      h.weights.add(p + "lora_A.weight", {2, 64}, nan_values);
      h.weights.add(p + "lora_B.weight", gpt2::Tensor({192, 2}));
    }
    CHECK_THROWS_WITH(
        parse(h, base),
        Contains("tensor 'base_model.model.transformer.h.0.attn.c_attn.lora_A.weight' holds nan"));
    AdapterFiles k = valid_files();
    std::string bytes = k.weights.serialize();
    CHECK_THROWS(parse(k.config, bytes.substr(0, bytes.size() / 2), base));
  }
  SECTION("directories") {
    CHECK_THROWS_WITH(gpt2::read_lora_adapter(fixtures() / "no_such_adapter", base),
                      Contains("is not a directory"));
    CHECK_THROWS_WITH(gpt2::read_lora_adapter(fixtures() / "05_hf_tiny", base),
                      Contains("has no adapter_config.json"));
    const fs::path out = temp_dir("merge_refuses");
    gpt2::create_directories(out);
    gpt2::write_file_atomic(out / "keep.txt", "data");
    CHECK_THROWS_WITH(
        gpt2::merge_lora_adapter_dir(fixtures() / "05_hf_tiny", fixtures() / "10_peft_adapter", out),
        Contains("already exists and is not empty"));
    CHECK(gpt2::read_file(out / "keep.txt") == "data");
    CHECK_THROWS_WITH(gpt2::merge_lora_adapter_dir(fixtures() / "05_hf_tiny",
                                                   fixtures() / "10_peft_adapter_cls", temp_dir("merge_cls")),
                      Contains("carries a classification head"));
    fs::remove_all(out);
  }
}
