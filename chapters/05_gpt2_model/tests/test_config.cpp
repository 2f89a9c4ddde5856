// Chapter 05: configurations, the parameter layout and the memory report.
#include <filesystem>
#include <set>
#include <string>

#include "chapters/05_gpt2_model/activations.h"
#include "chapters/05_gpt2_model/config.h"
#include "chapters/05_gpt2_model/parameters.h"
#include "common/error.h"
#include "common/testing.h"
#include "tests/catch.h"

using gpt2::GPT2Config;

TEST_CASE("05 config: OpenAI's sizes by name, with their published parameter counts", "[config]") {
  // The parameter counts of OpenAI's checkpoints as transformers reports them
  // (sum(p.numel() for p in GPT2Model.from_pretrained(name).parameters())).
  struct Known {
    const char* name;
    int L, NH, C;
    int64_t params;
  };
  for (Known k : {Known{"gpt2", 12, 12, 768, 124439808}, Known{"gpt2-medium", 24, 16, 1024, 354823168},
                  Known{"gpt2-large", 36, 20, 1280, 774030080}, Known{"gpt2-xl", 48, 25, 1600, 1557611200}}) {
    INFO(k.name);
    GPT2Config c = GPT2Config::from_name(k.name);
    CHECK(c.n_layer == k.L);
    CHECK(c.n_head == k.NH);
    CHECK(c.n_embd == k.C);
    CHECK(c.n_positions == 1024);
    CHECK(c.vocab_size == 50257);
    CHECK(gpt2::count_parameters(c) == k.params);
    CHECK(gpt2::ParameterLayout(c).num_parameters() == k.params);
  }
  CHECK_THROWS_WITH(GPT2Config::from_name("gpt3"),
                    "unknown model name 'gpt3' (known: gpt2, gpt2-medium, gpt2-large, gpt2-xl)");
}

TEST_CASE("05 config: explicit configurations are validated", "[config]") {
  GPT2Config c = GPT2Config::make(2, 4, 64, 32, 97);
  CHECK(c.head_size() == 16);
  CHECK_THROWS_WITH(
      GPT2Config::make(2, 3, 64, 32, 97),
      "GPT2Config: n_embd (64) must be divisible by n_head (3) so every head gets n_embd / n_head "
      "channels");
  CHECK_THROWS_WITH(GPT2Config::make(0, 4, 64, 32, 97), "GPT2Config: n_layer must be positive, got 0");
  CHECK_THROWS_WITH(GPT2Config::make(2, 4, 64, 32, -1), "GPT2Config: vocab_size must be positive, got -1");
  CHECK_THROWS_WITH(GPT2Config::make(2, 4, 64, 32, 97, 0.0f),
                    "GPT2Config: layer_norm_epsilon must be a positive number, got 0");
}

TEST_CASE("05 config: config.json round trip and errors", "[config]") {
  GPT2Config c = GPT2Config::make(3, 4, 64, 48, 101, 1e-5f);
  std::string text = gpt2::config_to_json(c);
  CHECK(gpt2::parse_config_json(text, "x") == c);
  // The keys transformers needs to rebuild the model.
  for (const char* key : {"\"model_type\": \"gpt2\"", "\"GPT2LMHeadModel\"", "\"n_ctx\": 48",
                          "\"n_positions\": 48", "\"n_layer\": 3", "\"activation_function\": \"gelu_new\"",
                          "\"layer_norm_epsilon\": 1e-05", "\"vocab_size\": 101"}) {
    INFO(key);
    CHECK(text.find(key) != std::string::npos);
  }
  // OpenAI's gpt2 config.json, as on the Hugging Face hub (abridged).
  std::string hub = R"({"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"],
    "attn_pdrop": 0.1, "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256,
    "initializer_range": 0.02, "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": 1024,
    "n_embd": 768, "n_head": 12, "n_layer": 12, "n_positions": 1024, "resid_pdrop": 0.1,
    "vocab_size": 50257})";
  GPT2Config gpt2_124m = GPT2Config::from_name("gpt2");
  gpt2_124m.dropout = {0.1f, 0.1f, 0.1f};
  CHECK(gpt2::parse_config_json(hub, "config.json") == gpt2_124m);
  CHECK_THROWS_WITH(gpt2::parse_config_json("{\"n_layer\": 2,", "config.json"),
                    Catch::Matchers::StartsWith("config.json: not valid JSON"));
  // Every JSON error names the file: an overflowing number is nlohmann's out_of_range, not parse_error.
  CHECK_THROWS_WITH(gpt2::parse_config_json("{\"n_layer\": 1e999}", "config.json"),
                    Catch::Matchers::StartsWith("config.json: not valid JSON"));
  CHECK_THROWS_WITH(
      gpt2::parse_config_json(
          R"({"n_layer": 2.5, "n_head": 4, "n_embd": 64, "n_positions": 8, "vocab_size": 9})", "config.json"),
      "config.json: 'n_layer' must be an integer, got 2.5");
  CHECK_THROWS_WITH(gpt2::parse_config_json(
                        R"({"n_layer": 18446744073709551615, "n_head": 4, "n_embd": 64, "n_positions": 8,
                                  "vocab_size": 9})",
                        "config.json"),
                    "config.json: 'n_layer' = 18446744073709551615 is out of range [1, 2147483647]");
  CHECK_THROWS_WITH(gpt2::parse_config_json(R"({"n_layer": 2, "n_head": 4, "n_embd": 64, "n_positions": 8,
                                                "vocab_size": 9, "layer_norm_epsilon": 1e300})",
                                            "config.json"),
                    "config.json: 'layer_norm_epsilon' must be in (0, 1), got 1e+300");
  CHECK_THROWS_WITH(gpt2::parse_config_json("[1, 2]", "config.json"),
                    "config.json: expected a JSON object, got array");
  CHECK_THROWS_WITH(gpt2::parse_config_json(
                        R"({"n_layer": 2, "n_head": 4, "n_positions": 8, "vocab_size": 9})", "config.json"),
                    "config.json: missing key 'n_embd'");
  CHECK_THROWS_WITH(
      gpt2::parse_config_json(
          R"({"n_layer": 2, "n_head": 4, "n_embd": "64", "n_positions": 8, "vocab_size": 9})", "config.json"),
      "config.json: 'n_embd' must be an integer, got \"64\"");
  CHECK_THROWS_WITH(
      gpt2::parse_config_json(
          R"({"n_layer": 2, "n_head": 5, "n_embd": 64, "n_positions": 8, "vocab_size": 9})", "c.json"),
      Catch::Matchers::StartsWith("c.json: n_embd (64) must be divisible by n_head (5)"));
  CHECK_THROWS_WITH(gpt2::parse_config_json(R"({"model_type": "llama", "n_layer": 2})", "config.json"),
                    "config.json: model_type is \"llama\", this program reads only \"gpt2\" models");
  CHECK_THROWS_WITH(
      gpt2::parse_config_json(R"({"activation_function": "relu", "n_layer": 2, "n_head": 4, "n_embd": 64,
                                  "n_positions": 8, "vocab_size": 9})",
                              "config.json"),
      "config.json: activation_function is \"relu\", this program implements only the tanh GELU "
      "(\"gelu_new\")");
}

TEST_CASE("05 config: dropout probabilities from config.json; absent means off", "[config][dropout]") {
  using Catch::Contains;
  const std::string shape = R"("n_layer": 2, "n_head": 4, "n_embd": 64, "n_positions": 32, "vocab_size": 97)";
  // OpenAI's (and our fixtures') configs say 0.1 for each.
  const GPT2Config hf =
      gpt2::read_config_json(std::filesystem::path(gpt2::fixture_dir()) / "05_hf_tiny" / "config.json");
  CHECK(hf.dropout == gpt2::DropoutConfig{0.1f, 0.1f, 0.1f});
  CHECK(hf.dropout.any());
  CHECK(hf.same_shape(GPT2Config::make(2, 4, 64, 32, 97)));
  CHECK(hf != GPT2Config::make(2, 4, 64, 32, 97));
  const GPT2Config none = gpt2::parse_config_json("{" + shape + R"(, "attn_pdrop": null})", "config.json");
  CHECK(none.dropout == gpt2::DropoutConfig{});
  CHECK(!none.dropout.any());
  CHECK(gpt2::parse_config_json("{" + shape + R"(, "resid_pdrop": 0.25})", "c").dropout.resid_pdrop == 0.25f);
  CHECK_THROWS_WITH(gpt2::parse_config_json("{" + shape + R"(, "embd_pdrop": 1.0})", "config.json"),
                    "config.json: 'embd_pdrop' must be a probability in [0, 1), got 1.0");
  CHECK_THROWS_WITH(gpt2::parse_config_json("{" + shape + R"(, "attn_pdrop": -0.1})", "config.json"),
                    Contains("'attn_pdrop' must be a probability in [0, 1)"));
  CHECK_THROWS_WITH(gpt2::parse_config_json("{" + shape + R"(, "resid_pdrop": "0.1"})", "config.json"),
                    Contains("'resid_pdrop' must be a probability in [0, 1), got \"0.1\""));
  // Written and read back; a model without dropout writes 0.0.
  GPT2Config c = GPT2Config::make(2, 4, 64, 32, 97);
  CHECK(gpt2::config_to_json(c).find("\"attn_pdrop\": 0.0") != std::string::npos);
  c.dropout = {0.1f, 0.0f, 0.2f};
  CHECK(gpt2::parse_config_json(gpt2::config_to_json(c), "x") == c);
  CHECK(gpt2::config_to_json(c).find("\"embd_pdrop\": 0.1,") != std::string::npos);
  c.dropout.attn_pdrop = 1.0f;
  CHECK_THROWS_WITH(c.validate("cfg"), "cfg: attn_pdrop must be a probability in [0, 1), got 1");
}

TEST_CASE("05 parameters: the layout covers the buffer exactly, in checkpoint order", "[parameters]") {
  GPT2Config c = GPT2Config::make(2, 4, 64, 32, 97);
  gpt2::ParameterLayout layout(c);
  const auto& specs = layout.specs();
  REQUIRE(specs.size() == 2 + 12 * 2 + 2);
  CHECK(specs.front().name == "wte.weight");
  CHECK(specs[2].name == "h.0.ln_1.weight");
  CHECK(specs.back().name == "ln_f.bias");
  int64_t offset = 0;
  std::set<std::string> names;
  for (const auto& s : specs) {
    CHECK(s.offset == offset);  // no gaps, no overlaps
    CHECK(s.numel == gpt2::shape_numel(s.shape));
    offset += s.numel;
    names.insert(s.name);
  }
  CHECK(names.size() == specs.size());
  CHECK(offset == layout.num_parameters());
  CHECK(offset == gpt2::count_parameters(c));
  CHECK(layout.find("h.1.attn.c_attn.weight").shape == gpt2::Shape{64, 192});
  CHECK(layout.find("h.1.mlp.c_proj.weight").shape == gpt2::Shape{256, 64});
  CHECK_THROWS_WITH(layout.find("h.2.ln_1.weight"), "GPT-2 has no parameter named 'h.2.ln_1.weight'");

  // The named pointers agree with the specs.
  std::vector<float> buffer(static_cast<size_t>(layout.num_parameters()));
  auto w = layout.bind(buffer.data());
  auto at = [&](const char* name) { return buffer.data() + layout.find(name).offset; };
  CHECK(w.wte == at("wte.weight"));
  CHECK(w.wpe == at("wpe.weight"));
  CHECK(w.blocks[1].c_attn_w == at("h.1.attn.c_attn.weight"));
  CHECK(w.blocks[1].mlp_c_proj_b == at("h.1.mlp.c_proj.bias"));
  CHECK(w.blocks[0].ln_2_w == at("h.0.ln_2.weight"));
  CHECK(w.lnf_b == at("ln_f.bias"));

  gpt2::Tensor t({layout.num_parameters()});
  gpt2::Tensor v = layout.view(t, "h.0.mlp.c_fc.weight");
  CHECK(v.shape() == gpt2::Shape{64, 256});
  CHECK(v.data() == t.data() + layout.find("h.0.mlp.c_fc.weight").offset);
}

TEST_CASE("05 memory: GPT-2 124M trains at B=4, T=64 in well under 4 GB", "[memory]") {
  gpt2::MemoryReport r = gpt2::memory_report(GPT2Config::from_name("gpt2"), 4, 64);
  CHECK(r.parameter_bytes == 124439808LL * 4);
  CHECK(r.optimizer_bytes == 2 * r.parameter_bytes);
  // The arena is dominated by the 12 blocks (21 BTC + 4 BT + B NH T^2 floats each) and the
  // logits (B T V): count them by hand.
  const int64_t BT = 256, C = 768, V = 50257;
  const int64_t per_block = 21 * BT * C + 4 * BT + 4 * 12 * 64 * 64;
  CHECK(r.activation_bytes == 4 * (12 * per_block + 2 * BT * C + 4 * BT + BT * V));
  double gib = static_cast<double>(r.training_bytes()) / (1024.0 * 1024.0 * 1024.0);
  INFO(r.to_string());
  CHECK(gib < 3.0);
  CHECK_THROWS_WITH(gpt2::memory_report(GPT2Config::from_name("gpt2"), 4, 2048),
                    "sequence length T must be in [1, 1024] (the model's context), got 2048");
}
