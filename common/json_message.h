/// @file json_message.h
/// @brief Pieces of JSON quoted in error messages, kept short whatever the input holds.
///
/// A message quotes the offending value ("got [\"a\"]"), but a hostile file may hold a value a
/// megabyte long or nested a hundred thousand levels deep (which nlohmann::json's dump() would
/// follow by recursion). Small values are quoted; anything else is named by its type.
#pragma once

#include <string>

namespace gpt2 {

/// `v` as JSON text for a message: dumped if it is a scalar or a short list/object of scalars,
/// cut to `max_chars`; otherwise "a list of N values" / "an object of N fields". Json is
/// nlohmann::json or nlohmann::ordered_json.
template <typename Json>
std::string json_for_message(const Json& v, size_t max_chars = 60) {
  if (v.is_structured()) {
    bool flat = v.size() <= 8;
    if (flat)
      for (const auto& e : v) flat = flat && !e.is_structured();
    if (!flat)
      return v.is_array() ? "a list of " + std::to_string(v.size()) + " values"
                          : "an object of " + std::to_string(v.size()) + " fields";
  }
  std::string s = v.dump();
  return s.size() <= max_chars ? s : s.substr(0, max_chars - 3) + "...";
}

/// The text of a nlohmann::json parse error, cut to `max_chars` (its "last read" part can quote a
/// long stretch of the input).
inline std::string json_error_for_message(const char* what, size_t max_chars = 200) {
  std::string s(what);
  return s.size() <= max_chars ? s : s.substr(0, max_chars - 3) + "...";
}

}  // namespace gpt2
