#include "json_fields.h"

#include <charconv>
#include <cmath>

#include "error.h"

namespace gpt2 {

using nlohmann::json;

json parse_json(const std::string& text, const std::string& name) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    fail(name, ": not valid JSON (", e.what(), ")");
  }
}

const json& json_field(const json& j, const std::string& key, const std::string& name) {
  GPT2_CHECK(j.is_object(), name, ": expected a JSON object, got ", j.type_name());
  const auto it = j.find(key);
  GPT2_CHECK(it != j.end(), name, ": missing key '", key, "'");
  return *it;
}

int64_t json_int(const json& j, const std::string& key, int64_t min, int64_t max, const std::string& name) {
  const json& v = json_field(j, key, name);
  GPT2_CHECK(v.is_number_integer(), name, ": '", key, "' must be an integer, got ", v.dump());
  // Beyond int64: nlohmann keeps such a number as unsigned; get<int64_t>() would wrap it around.
  const bool fits = v.is_number_unsigned() ? v.get<uint64_t>() <= static_cast<uint64_t>(max) : true;
  const int64_t x = fits ? v.get<int64_t>() : max;
  GPT2_CHECK(fits && x >= min && x <= max, name, ": '", key, "' = ", v.dump(), " is out of range [", min,
             ", ", max, "]");
  return x;
}

double json_number(const json& j, const std::string& key, const std::string& name) {
  const json& v = json_field(j, key, name);
  GPT2_CHECK(v.is_number(), name, ": '", key, "' must be a number, got ", v.dump());
  const double x = v.get<double>();
  GPT2_CHECK(std::isfinite(x), name, ": '", key, "' must be a finite number, got ", v.dump());
  return x;
}

uint64_t json_u64_string(const json& j, const std::string& key, const std::string& name) {
  const json& v = json_field(j, key, name);
  uint64_t x = 0;
  bool ok = v.is_string();
  if (ok) {
    const std::string& s = v.get_ref<const std::string&>();
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), x);  // digits only: no sign
    ok = !s.empty() && ec == std::errc() && end == s.data() + s.size();
  }
  GPT2_CHECK(ok, name, ": '", key, "' must be a decimal string of a 64-bit value, got ", v.dump());
  return x;
}

const json& json_object(const json& j, const std::string& key, const std::string& name) {
  const json& v = json_field(j, key, name);
  GPT2_CHECK(v.is_object(), name, ": '", key, "' must be an object, got ", v.dump());
  return v;
}

}  // namespace gpt2
