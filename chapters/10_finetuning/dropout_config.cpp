#include "chapters/10_finetuning/dropout_config.h"

#include <nlohmann/json.hpp>

#include "chapters/10_finetuning/json_message.h"
#include "common/error.h"
#include "common/file_io.h"

namespace gpt2 {

DropoutConfig parse_dropout_config(std::string_view config_json, const std::string& name) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(config_json.begin(), config_json.end());
  } catch (const nlohmann::json::exception& e) {
    fail(name, ": not valid JSON (", json_error_for_message(e.what()), ")");
  }
  GPT2_CHECK(j.is_object(), name, ": expected a JSON object, got ", j.type_name());
  auto probability = [&](const char* key) {
    if (!j.contains(key) || j[key].is_null()) return 0.0f;
    const nlohmann::json& v = j[key];
    GPT2_CHECK(v.is_number() && v.get<double>() >= 0 && v.get<double>() < 1, name, ": '", key,
               "' must be a probability in [0, 1), got ", json_for_message(v));
    return v.get<float>();
  };
  DropoutConfig d;
  d.embd_pdrop = probability("embd_pdrop");
  d.attn_pdrop = probability("attn_pdrop");
  d.resid_pdrop = probability("resid_pdrop");
  return d;
}

DropoutConfig read_dropout_config(const std::filesystem::path& path) {
  return parse_dropout_config(read_file(path), path.string());
}

}  // namespace gpt2
