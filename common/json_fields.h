/// @file json_fields.h
/// @brief Reading the small JSON files of the project (config.json, state.json, run.json):
/// every JSON error caught and named, every field checked for its type and range.
///
/// nlohmann::json throws several exception types (parse_error for bad syntax, out_of_range for a
/// number like 1e999, type_error for a string where a number was expected), and its get<int>()
/// converts 2.5 or 1e30 without a word (the second with undefined behaviour). These helpers turn
/// each case into one gpt2::Error naming the file and the field:
/// `state.json: 'step' must be an integer, got 2.5`.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace gpt2 {

/// Parses `text`; any JSON error becomes "name: not valid JSON (what nlohmann says)".
nlohmann::json parse_json(const std::string& text, const std::string& name);

/// j[key]; throws "name: missing key 'key'" (or "name: expected a JSON object" when j is not one).
const nlohmann::json& json_field(const nlohmann::json& j, const std::string& key, const std::string& name);

/// An integer field in [min, max]: a JSON integer (not 2.5, not 1e30), else an error.
int64_t json_int(const nlohmann::json& j, const std::string& key, int64_t min, int64_t max,
                 const std::string& name);

/// A finite number field (integer or not).
double json_number(const nlohmann::json& j, const std::string& key, const std::string& name);

/// A 64-bit unsigned value stored as a decimal string ("18446744073709551615"): JSON readers in
/// other languages keep only 53 bits of a number.
uint64_t json_u64_string(const nlohmann::json& j, const std::string& key, const std::string& name);

/// An object field.
const nlohmann::json& json_object(const nlohmann::json& j, const std::string& key, const std::string& name);

}  // namespace gpt2
