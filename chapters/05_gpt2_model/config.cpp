#include "config.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/file_io.h"
#include "common/json_fields.h"
#include "common/json_message.h"

namespace gpt2 {

using nlohmann::json;

void GPT2Config::validate(std::string_view where) const {
  auto check_limit = [&](const char* field, int value, int limit) {
    GPT2_CHECK(value <= limit, where, ": ", field, " = ", value, " is more than this program supports (",
               limit, ")");
  };
  check_limit("n_layer", n_layer, kMaxLayers);
  check_limit("n_embd", n_embd, kMaxEmbd);
  check_limit("n_positions", n_positions, kMaxPositions);
  check_limit("vocab_size", vocab_size, kMaxVocab);
  GPT2_CHECK(n_layer > 0, where, ": n_layer must be positive, got ", n_layer);
  GPT2_CHECK(n_head > 0, where, ": n_head must be positive, got ", n_head);
  GPT2_CHECK(n_embd > 0, where, ": n_embd must be positive, got ", n_embd);
  GPT2_CHECK(n_embd % n_head == 0, where, ": n_embd (", n_embd, ") must be divisible by n_head (", n_head,
             ") so every head gets n_embd / n_head channels");
  GPT2_CHECK(n_positions > 0, where, ": n_positions (the context length) must be positive, got ",
             n_positions);
  GPT2_CHECK(vocab_size > 0, where, ": vocab_size must be positive, got ", vocab_size);
  GPT2_CHECK(std::isfinite(layer_norm_epsilon) && layer_norm_epsilon > 0, where,
             ": layer_norm_epsilon must be a positive number, got ", layer_norm_epsilon);
  dropout.validate(where);
}

void DropoutConfig::validate(std::string_view where) const {
  for (auto [key, p] : {std::pair{"embd_pdrop", embd_pdrop}, std::pair{"attn_pdrop", attn_pdrop},
                        std::pair{"resid_pdrop", resid_pdrop}}) {
    GPT2_CHECK(std::isfinite(p) && p >= 0 && p < 1, where, ": ", key,
               " must be a probability in [0, 1), got ", p);
  }
}

namespace {
struct Named {
  const char* name;
  int n_layer, n_head, n_embd;
};
// OpenAI's four released sizes; all share the context length 1024 and the 50257-token vocabulary.
constexpr Named kNamed[] = {{"gpt2", 12, 12, 768},
                            {"gpt2-medium", 24, 16, 1024},
                            {"gpt2-large", 36, 20, 1280},
                            {"gpt2-xl", 48, 25, 1600}};
}  // namespace

std::vector<std::string> GPT2Config::known_names() {
  std::vector<std::string> names;
  for (const Named& n : kNamed) names.emplace_back(n.name);
  return names;
}

GPT2Config GPT2Config::from_name(std::string_view name) {
  for (const Named& n : kNamed) {
    if (name == n.name) return make(n.n_layer, n.n_head, n.n_embd, 1024, 50257);
  }
  std::string known;
  for (const Named& n : kNamed) known += cat(known.empty() ? "" : ", ", n.name);
  fail("unknown model name '", name, "' (known: ", known, ")");
}

GPT2Config GPT2Config::make(int n_layer, int n_head, int n_embd, int n_positions, int vocab_size,
                            float layer_norm_epsilon) {
  GPT2Config c;
  c.n_layer = n_layer;
  c.n_head = n_head;
  c.n_embd = n_embd;
  c.n_positions = n_positions;
  c.vocab_size = vocab_size;
  c.layer_norm_epsilon = layer_norm_epsilon;
  c.validate();
  return c;
}

std::string to_string(const GPT2Config& c) {
  return cat("L=", c.n_layer, " NH=", c.n_head, " C=", c.n_embd, " maxT=", c.n_positions,
             " V=", c.vocab_size);
}

namespace {
// A size of the config: a positive int (GPT2Config::validate then applies the limits).
int int_field(const json& j, const char* key, const std::string& name) {
  return static_cast<int>(json_int(j, key, 1, INT32_MAX, name));
}
}  // namespace

GPT2Config parse_config_json(const std::string& text, const std::string& name) {
  const json j = parse_json(text, name);
  GPT2_CHECK(j.is_object(), name, ": expected a JSON object, got ", j.type_name());
  if (j.contains("model_type")) {
    GPT2_CHECK(j["model_type"] == "gpt2", name, ": model_type is ", j["model_type"].dump(),
               ", this program reads only \"gpt2\" models");
  }
  GPT2Config c;
  c.n_layer = int_field(j, "n_layer", name);
  c.n_head = int_field(j, "n_head", name);
  c.n_embd = int_field(j, "n_embd", name);
  // Old configs have only n_ctx; transformers reads n_positions.
  c.n_positions = int_field(j, j.contains("n_positions") ? "n_positions" : "n_ctx", name);
  c.vocab_size = int_field(j, "vocab_size", name);
  if (j.contains("layer_norm_epsilon")) {
    // In double first: 1e300 does not fit a float (and converting it would be undefined).
    const double eps = json_number(j, "layer_norm_epsilon", name);
    GPT2_CHECK(eps > 0 && eps < 1, name, ": 'layer_norm_epsilon' must be in (0, 1), got ", eps);
    c.layer_norm_epsilon = static_cast<float>(eps);
  }
  // Dropout (training only). Absent or null means 0; a value must be a probability below 1.
  auto probability = [&](const char* key) {
    if (!j.contains(key) || j[key].is_null()) return 0.0f;
    const json& v = j[key];
    GPT2_CHECK(v.is_number() && v.get<double>() >= 0 && v.get<double>() < 1, name, ": '", key,
               "' must be a probability in [0, 1), got ", json_for_message(v));
    return v.get<float>();
  };
  c.dropout.embd_pdrop = probability("embd_pdrop");
  c.dropout.attn_pdrop = probability("attn_pdrop");
  c.dropout.resid_pdrop = probability("resid_pdrop");
  // The variants of GPT2Config this course does not implement: refuse them rather than compute
  // something else silently.
  if (j.contains("activation_function")) {
    const json& a = j["activation_function"];
    GPT2_CHECK(a == "gelu_new" || a == "gelu_pytorch_tanh", name, ": activation_function is ", a.dump(),
               ", this program implements only the tanh GELU (\"gelu_new\")");
  }
  if (j.contains("n_inner") && !j["n_inner"].is_null()) {
    GPT2_CHECK(j["n_inner"] == 4 * c.n_embd, name, ": n_inner is ", j["n_inner"].dump(),
               ", this program implements only the MLP width 4 * n_embd = ", 4 * c.n_embd);
  }
  if (j.contains("scale_attn_by_inverse_layer_idx")) {
    GPT2_CHECK(j["scale_attn_by_inverse_layer_idx"] == false, name,
               ": scale_attn_by_inverse_layer_idx = true is not implemented");
  }
  if (j.contains("scale_attn_weights")) {
    GPT2_CHECK(j["scale_attn_weights"] == true, name, ": scale_attn_weights = false is not implemented");
  }
  c.validate(name);
  return c;
}

GPT2Config read_config_json(const std::filesystem::path& path) {
  return parse_config_json(read_file(path), path.string());
}

namespace {
// 1e-5f is 9.99999974737875e-06 as a double; write the shortest decimal that reads back as the
// same float ("1e-05"), as Python would.
double float_as_short_double(float x) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, x);
  return std::strtod(std::string(buf, end).c_str(), nullptr);
}
}  // namespace

std::string config_to_json(const GPT2Config& c) {
  // The keys of OpenAI's own gpt2 config.json on the Hugging Face hub, with our sizes and our
  // dropout probabilities (0 unless the model was trained with dropout).
  nlohmann::ordered_json j;
  j["model_type"] = "gpt2";
  j["architectures"] = {"GPT2LMHeadModel"};
  j["activation_function"] = "gelu_new";
  j["n_layer"] = c.n_layer;
  j["n_head"] = c.n_head;
  j["n_embd"] = c.n_embd;
  j["n_positions"] = c.n_positions;
  j["n_ctx"] = c.n_positions;
  j["n_inner"] = nullptr;  // null means 4 * n_embd
  j["vocab_size"] = c.vocab_size;
  j["layer_norm_epsilon"] = float_as_short_double(c.layer_norm_epsilon);
  j["initializer_range"] = 0.02;
  j["attn_pdrop"] = float_as_short_double(c.dropout.attn_pdrop);
  j["embd_pdrop"] = float_as_short_double(c.dropout.embd_pdrop);
  j["resid_pdrop"] = float_as_short_double(c.dropout.resid_pdrop);
  j["scale_attn_weights"] = true;
  j["scale_attn_by_inverse_layer_idx"] = false;
  j["reorder_and_upcast_attn"] = false;
  j["tie_word_embeddings"] = true;
  j["use_cache"] = true;
  if (c.vocab_size > 50256) {  // GPT-2's <|endoftext|> is token 50256
    j["bos_token_id"] = 50256;
    j["eos_token_id"] = 50256;
  }
  return j.dump(2) + "\n";
}

void write_config_json(const GPT2Config& config, const std::filesystem::path& path) {
  write_file_atomic(path, config_to_json(config));
}

}  // namespace gpt2
