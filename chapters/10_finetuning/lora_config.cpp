#include "chapters/10_finetuning/lora_config.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/file_io.h"
#include "common/json_message.h"

namespace gpt2 {

using ordered_json = nlohmann::ordered_json;

const char* lora_module_name(LoraModule module) {
  switch (module) {
    case LoraModule::attn_c_attn:
      return "attn.c_attn";
    case LoraModule::attn_c_proj:
      return "attn.c_proj";
    case LoraModule::mlp_c_fc:
      return "mlp.c_fc";
    case LoraModule::mlp_c_proj:
      return "mlp.c_proj";
  }
  return "?";
}

std::string LoraTarget::path() const {
  return cat("h.", layer, ".", lora_module_name(module));
}

bool LoraConfig::has_score_head() const {
  if (task_type == "SEQ_CLS") return true;
  for (const std::string& m : modules_to_save)
    if (m == "score") return true;
  return false;
}

namespace {

constexpr LoraModule kModules[] = {LoraModule::attn_c_attn, LoraModule::attn_c_proj, LoraModule::mlp_c_fc,
                                   LoraModule::mlp_c_proj};

bool present(const ordered_json& j, const char* key) {
  return j.contains(key) && !j[key].is_null();
}

// A module name as a list entry of target_modules may hold it: letters, digits, '_' and '.'.
// Anything else would be a regular expression, which we do not evaluate.
bool is_plain_name(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

std::vector<std::string> string_list(const ordered_json& v, const char* key, const std::string& name) {
  GPT2_CHECK(v.is_array(), name, ": '", key, "' must be a list of module names, got ", json_for_message(v));
  std::vector<std::string> out;
  for (const ordered_json& e : v) {
    GPT2_CHECK(e.is_string(), name, ": '", key, "' must be a list of module names, got the entry ",
               json_for_message(e));
    std::string s = e.get<std::string>();
    GPT2_CHECK(is_plain_name(s), name, ": '", key, "' entry ", json_for_message(e),
               " is not a module name (letters, digits, '_' and '.'; regular expressions are not supported)");
    out.push_back(std::move(s));
  }
  return out;
}

int positive_int(const ordered_json& v, const std::string& what, const std::string& name) {
  GPT2_CHECK(v.is_number_integer(), name, ": ", what, " must be an integer, got ", json_for_message(v));
  GPT2_CHECK(!v.is_number_unsigned() || v.template get<uint64_t>() < (uint64_t{1} << 31), name, ": ", what,
             " = ", json_for_message(v), " is out of range");
  const int64_t x = v.get<int64_t>();
  GPT2_CHECK(x >= 1, name, ": ", what, " must be at least 1, got ", x);
  GPT2_CHECK(x < (int64_t{1} << 31), name, ": ", what, " = ", x, " is out of range");
  return static_cast<int>(x);
}

double positive_number(const ordered_json& v, const std::string& what, const std::string& name) {
  GPT2_CHECK(v.is_number(), name, ": ", what, " must be a number, got ", json_for_message(v));
  const double x = v.get<double>();
  GPT2_CHECK(std::isfinite(x) && x > 0, name, ": ", what, " must be a positive number, got ",
             json_for_message(v));
  return x;
}

bool bool_field(const ordered_json& j, const char* key, bool fallback, const std::string& name) {
  if (!present(j, key)) return fallback;
  GPT2_CHECK(j[key].is_boolean(), name, ": '", key, "' must be true or false, got ",
             json_for_message(j[key]));
  return j[key].get<bool>();
}

// Does PEFT's rule match `entry` to the module at `path` ("transformer.h.0.attn.c_attn")? The
// entry is the whole path, or a dot-separated tail of it.
bool matches_module(const std::string& path, const std::string& entry) {
  if (path == entry) return true;
  return path.size() > entry.size() && path.compare(path.size() - entry.size(), entry.size(), entry) == 0 &&
         path[path.size() - entry.size() - 1] == '.';
}

}  // namespace

std::vector<std::string> all_linear_modules() {
  return {"c_attn", "c_proj", "c_fc"};
}

LoraConfig parse_adapter_config(std::string_view text, const std::string& name) {
  // PEFT's files are about 1 KB. The limit keeps a hostile file cheap: an ordered_json object
  // finds its keys by linear search, so parsing costs the square of the number of keys.
  GPT2_CHECK(text.size() <= kMaxAdapterConfigBytes, name, ": ", text.size(),
             " bytes; an adapter_config.json has at most ", kMaxAdapterConfigBytes);
  ordered_json j;
  try {
    j = ordered_json::parse(text.begin(), text.end());
  } catch (const ordered_json::exception& e) {
    fail(name, ": not valid JSON (", json_error_for_message(e.what()), ")");
  }
  GPT2_CHECK(j.is_object(), name, ": expected a JSON object, got ", j.type_name());
  LoraConfig c;

  GPT2_CHECK(present(j, "peft_type"), name, ": missing 'peft_type' (expected \"LORA\")");
  GPT2_CHECK(j["peft_type"] == "LORA", name, ": peft_type is ", json_for_message(j["peft_type"]),
             "; only LoRA adapters (\"LORA\") can be read");
  if (present(j, "r")) c.r = positive_int(j["r"], "'r' (the rank)", name);
  if (present(j, "lora_alpha")) c.lora_alpha = positive_number(j["lora_alpha"], "'lora_alpha'", name);
  if (present(j, "lora_dropout")) {
    const ordered_json& v = j["lora_dropout"];
    GPT2_CHECK(v.is_number() && v.get<double>() >= 0 && v.get<double>() < 1, name,
               ": 'lora_dropout' must be a number in [0, 1), got ", json_for_message(v));
    c.lora_dropout = v.get<double>();
  }

  if (present(j, "target_modules")) {
    const ordered_json& v = j["target_modules"];
    if (v.is_string()) {
      GPT2_CHECK(v == "all-linear", name, ": target_modules ", json_for_message(v),
                 " is a regular expression, which is not supported; give the list of module names, e.g. "
                 "[\"c_attn\", \"c_proj\"]");
      c.target_modules = all_linear_modules();
    } else {
      c.target_modules = string_list(v, "target_modules", name);
      GPT2_CHECK(!c.target_modules.empty(), name, ": 'target_modules' is empty: no layer would be adapted");
    }
  }
  if (present(j, "exclude_modules"))
    c.exclude_modules = string_list(j["exclude_modules"], "exclude_modules", name);
  if (present(j, "layers_to_transform")) {
    const ordered_json& v = j["layers_to_transform"];
    auto layer_index = [&](const ordered_json& e) {
      GPT2_CHECK(e.is_number_integer() && e.get<int64_t>() >= 0 && e.get<int64_t>() < (int64_t{1} << 31),
                 name, ": 'layers_to_transform' must hold block indices (integers >= 0), got ",
                 json_for_message(e));
      return static_cast<int>(e.get<int64_t>());
    };
    if (v.is_array()) {
      for (const ordered_json& e : v) c.layers_to_transform.push_back(layer_index(e));
    } else {
      c.layers_to_transform.push_back(layer_index(v));
    }
  }
  if (present(j, "layers_pattern")) {
    // GPT-2's blocks live under "h"; any other pattern would match no block.
    const ordered_json& v = j["layers_pattern"];
    const bool ok = v == "" || v == "h" || (v.is_array() && (v.empty() || (v.size() == 1 && v[0] == "h")));
    GPT2_CHECK(ok, name, ": layers_pattern ", json_for_message(v),
               " names no block of a GPT-2 (its blocks are \"h\")");
  }
  for (const char* key : {"rank_pattern", "alpha_pattern"}) {
    if (!present(j, key)) continue;
    const ordered_json& v = j[key];
    GPT2_CHECK(v.is_object(), name, ": '", key, "' must be an object, got ", json_for_message(v));
    for (const auto& [pattern, value] : v.items()) {
      GPT2_CHECK(is_plain_name(pattern), name, ": '", key, "' key ", json_for_message(ordered_json(pattern)),
                 " is not a module name (regular expressions are not supported)");
      const std::string what = cat("'", key, "' of '", pattern, "'");
      if (std::string_view(key) == "rank_pattern") {
        c.rank_pattern.emplace_back(pattern, positive_int(value, what, name));
      } else {
        c.alpha_pattern.emplace_back(pattern, positive_number(value, what, name));
      }
    }
  }
  c.use_rslora = bool_field(j, "use_rslora", false, name);
  c.fan_in_fan_out = bool_field(j, "fan_in_fan_out", true, name);
  // PEFT itself treats every Conv1D as fan_in_fan_out (it warns and sets it when a config says
  // false), and the tensors are the same either way, so false is accepted.

  if (present(j, "bias")) {
    GPT2_CHECK(j["bias"] == "none", name, ": bias is ", json_for_message(j["bias"]),
               "; only \"none\" is supported (the base model's biases stay frozen and are not saved)");
  }
  if (present(j, "task_type")) {
    const ordered_json& v = j["task_type"];
    GPT2_CHECK(v == "CAUSAL_LM" || v == "SEQ_CLS" || v == "FEATURE_EXTRACTION", name, ": task_type is ",
               json_for_message(v), "; expected \"CAUSAL_LM\", \"SEQ_CLS\" or \"FEATURE_EXTRACTION\"");
    c.task_type = v.get<std::string>();
  } else {
    c.task_type = "";
  }
  if (present(j, "base_model_name_or_path")) {
    GPT2_CHECK(j["base_model_name_or_path"].is_string(), name,
               ": 'base_model_name_or_path' must be a string");
    c.base_model_name_or_path = j["base_model_name_or_path"].get<std::string>();
  }
  if (present(j, "modules_to_save")) {
    c.modules_to_save = string_list(j["modules_to_save"], "modules_to_save", name);
    for (const std::string& m : c.modules_to_save) {
      // PEFT adds both names for any sequence classifier; a GPT-2's head is "score".
      GPT2_CHECK(m == "score" || m == "classifier", name, ": modules_to_save lists '", m,
                 "'; only the classification head (\"score\") can be saved beside the adapter");
    }
  }

  // Variants that change what the adapter computes, which this chapter does not implement.
  for (const char* key : {"use_dora", "lora_bias", "use_qalora"}) {
    GPT2_CHECK(!bool_field(j, key, false, name), name, ": ", key, " = true is not supported");
  }
  for (const char* key :
       {"trainable_token_indices", "target_parameters", "layer_replication", "alora_invocation_tokens"}) {
    const bool unused = !present(j, key) || (j[key].is_array() && j[key].empty());
    GPT2_CHECK(unused, name, ": '", key, "' is not supported (got ", json_for_message(j[key]), ")");
  }
  return c;
}

LoraConfig read_adapter_config(const std::filesystem::path& path) {
  return parse_adapter_config(read_file(path), path.string());
}

std::string adapter_config_to_json(const LoraConfig& c) {
  // The keys PEFT writes, sorted as its save_pretrained sorts them.
  ordered_json j;
  ordered_json alpha = ordered_json::object(), rank = ordered_json::object();
  for (const auto& [k, v] : c.alpha_pattern) alpha[k] = v;
  for (const auto& [k, v] : c.rank_pattern) rank[k] = v;
  j["alpha_pattern"] = alpha;
  j["auto_mapping"] = nullptr;
  j["base_model_name_or_path"] = c.base_model_name_or_path;
  j["bias"] = "none";
  if (!c.exclude_modules.empty()) j["exclude_modules"] = c.exclude_modules;
  j["fan_in_fan_out"] = c.fan_in_fan_out;
  j["inference_mode"] = true;
  j["init_lora_weights"] = true;
  j["layers_pattern"] = nullptr;
  j["layers_to_transform"] =
      c.layers_to_transform.empty() ? ordered_json(nullptr) : ordered_json(c.layers_to_transform);
  // An integral alpha is written as an integer, as PEFT's (int-typed) field is.
  if (c.lora_alpha == std::floor(c.lora_alpha) && std::fabs(c.lora_alpha) < 1e15) {
    j["lora_alpha"] = static_cast<int64_t>(c.lora_alpha);
  } else {
    j["lora_alpha"] = c.lora_alpha;
  }
  j["lora_dropout"] = c.lora_dropout;
  j["modules_to_save"] = c.modules_to_save.empty() ? ordered_json(nullptr) : ordered_json(c.modules_to_save);
  j["peft_type"] = "LORA";
  j["r"] = c.r;
  j["rank_pattern"] = rank;
  j["revision"] = nullptr;
  j["target_modules"] = c.target_modules;
  j["task_type"] = c.task_type.empty() ? ordered_json(nullptr) : ordered_json(c.task_type);
  j["use_dora"] = false;
  j["use_rslora"] = c.use_rslora;
  return j.dump(2) + "\n";
}

std::vector<LoraTarget> lora_targets(const LoraConfig& c, const GPT2Config& base, const std::string& where) {
  const int C = base.n_embd;
  for (int layer : c.layers_to_transform) {
    GPT2_CHECK(layer < base.n_layer, where, ": layers_to_transform lists block ", layer,
               ", but the base model has ", base.n_layer, " blocks (0..", base.n_layer - 1, ")");
  }
  std::vector<int> entry_matches(c.target_modules.size(), 0);
  std::vector<LoraTarget> targets;
  for (int i = 0; i < base.n_layer; ++i) {
    for (LoraModule m : kModules) {
      // PEFT's name of the module inside GPT2LMHeadModel (or GPT2ForSequenceClassification).
      const std::string path = cat("transformer.h.", i, ".", lora_module_name(m));
      bool targeted = false;
      for (size_t e = 0; e < c.target_modules.size(); ++e) {
        if (matches_module(path, c.target_modules[e])) {
          targeted = true;
          ++entry_matches[e];
        }
      }
      for (const std::string& x : c.exclude_modules) targeted = targeted && !matches_module(path, x);
      if (!c.layers_to_transform.empty()) {
        bool listed = false;
        for (int layer : c.layers_to_transform) listed = listed || layer == i;
        targeted = targeted && listed;
      }
      if (!targeted) continue;

      LoraTarget t;
      t.layer = i;
      t.module = m;
      t.in = m == LoraModule::mlp_c_proj ? 4 * C : C;
      t.out = m == LoraModule::attn_c_attn ? 3 * C : m == LoraModule::mlp_c_fc ? 4 * C : C;
      t.r = c.r;
      for (const auto& [pattern, r] : c.rank_pattern) {
        if (matches_module(path, pattern)) {
          t.r = r;
          break;
        }
      }
      double alpha = c.lora_alpha;
      for (const auto& [pattern, a] : c.alpha_pattern) {
        if (matches_module(path, pattern)) {
          alpha = a;
          break;
        }
      }
      const int max_r = std::min(t.in, t.out);
      GPT2_CHECK(t.r <= max_r, where, ": r = ", t.r, " is larger than the layer ", t.path(), " (", t.in,
                 " -> ", t.out, "): an update of a ", t.in, " x ", t.out, " matrix has rank at most ", max_r);
      t.scaling =
          static_cast<float>(c.use_rslora ? alpha / std::sqrt(static_cast<double>(t.r)) : alpha / t.r);
      targets.push_back(t);
    }
  }
  for (size_t e = 0; e < c.target_modules.size(); ++e) {
    GPT2_CHECK(entry_matches[e] > 0, where, ": target module '", c.target_modules[e],
               "' matches no layer of a GPT-2 (LoRA adapts its Conv1D layers: c_attn, c_proj, c_fc, or paths "
               "such as attn.c_proj, mlp.c_proj, h.0.attn.c_attn)");
  }
  GPT2_CHECK(!targets.empty(), where,
             ": no layer is adapted (target_modules, exclude_modules and "
             "layers_to_transform leave nothing)");
  return targets;
}

int64_t lora_parameter_count(const std::vector<LoraTarget>& targets) {
  int64_t n = 0;
  for (const LoraTarget& t : targets) n += static_cast<int64_t>(t.r) * (t.in + t.out);
  return n;
}

}  // namespace gpt2
