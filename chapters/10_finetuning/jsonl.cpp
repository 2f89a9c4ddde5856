#include "chapters/10_finetuning/jsonl.h"

#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>

#include "chapters/01_tokenizer/utf8.h"
#include "common/error.h"
#include "common/file_io.h"
#include "common/json_message.h"

namespace gpt2 {

using json = nlohmann::json;

namespace {

// The offset of the first invalid UTF-8 byte of `text`, or npos.
size_t first_invalid_utf8(std::string_view text) {
  for (size_t pos = 0; pos < text.size();) {
    const Utf8Char c = decode_utf8(text, pos);
    if (!c.valid) return pos;
    pos += static_cast<size_t>(c.length);
  }
  return std::string_view::npos;
}

bool is_blank(std::string_view line) {
  return std::all_of(line.begin(), line.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
}

// Calls record(where, object) for every record of a JSONL text or JSON array, where `where` is
// "name:LINE" (JSONL) or "name: record N" (array) for messages, and LINE / N is passed too.
void for_each_record(std::string_view bytes, const std::string& name,
                     const std::function<void(const std::string&, int, const json&)>& record) {
  if (bytes.substr(0, 3) == "\xEF\xBB\xBF") bytes.remove_prefix(3);  // byte-order mark
  const size_t first = bytes.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && bytes[first] == '[') {
    // A JSON array of records (Alpaca's alpaca_data.json).
    const size_t bad = first_invalid_utf8(bytes);
    if (bad != std::string_view::npos) {
      const auto line = 1 + std::count(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(bad), '\n');
      fail(name, ":", line, ": invalid UTF-8 at byte ", bad, " of the file");
    }
    json all;
    try {
      all = json::parse(bytes.begin(), bytes.end());
    } catch (const json::exception& e) {
      fail(name, ": not valid JSON (", json_error_for_message(e.what()), ")");
    }
    GPT2_CHECK(all.is_array(), name, ": expected a JSON array of records");
    int n = 0;
    for (const json& r : all) {
      ++n;
      record(cat(name, ": record ", n), n, r);
    }
    return;
  }
  int line_number = 0;
  size_t start = 0;
  while (start < bytes.size()) {
    size_t end = bytes.find('\n', start);
    if (end == std::string_view::npos) end = bytes.size();
    std::string_view line = bytes.substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (is_blank(line)) continue;
    const std::string where = cat(name, ":", line_number);
    const size_t bad = first_invalid_utf8(line);
    GPT2_CHECK(bad == std::string_view::npos, where, ": invalid UTF-8 at byte ", bad, " of the line");
    json r;
    try {
      r = json::parse(line.begin(), line.end());
    } catch (const json::exception& e) {
      fail(where, ": not valid JSON (", json_error_for_message(e.what()), ")");
    }
    record(where, line_number, r);
  }
}

// Field `key` of record `r`: a string, non-empty unless `may_be_empty`; "" if absent and optional.
std::string string_field(const json& r, const char* key, bool required, bool may_be_empty,
                         const std::string& where) {
  if (!r.contains(key) || (!required && r[key].is_null())) {
    GPT2_CHECK(!required, where, ": missing field '", key, "'");
    return "";
  }
  const json& v = r[key];
  GPT2_CHECK(v.is_string(), where, ": field '", key, "' must be a string, got ", json_for_message(v));
  std::string s = v.get<std::string>();
  GPT2_CHECK(may_be_empty || !s.empty(), where, ": field '", key, "' is empty");
  return s;
}

}  // namespace

std::vector<InstructionExample> parse_instruction_data(std::string_view bytes, const std::string& name) {
  std::vector<InstructionExample> out;
  for_each_record(bytes, name, [&](const std::string& where, int line, const json& r) {
    GPT2_CHECK(r.is_object(), where, ": expected a JSON object, got ", r.type_name());
    InstructionExample e;
    e.instruction = string_field(r, "instruction", true, false, where);
    e.input = string_field(r, "input", false, true, where);
    e.output = string_field(r, "output", true, false, where);
    e.line = line;
    out.push_back(std::move(e));
  });
  GPT2_CHECK(!out.empty(), name, ": no examples");
  return out;
}

std::vector<InstructionExample> read_instruction_data(const std::filesystem::path& path) {
  return parse_instruction_data(read_file(path), path.string());
}

std::vector<LabeledText> parse_labeled_texts(std::string_view bytes, const std::string& name) {
  std::vector<LabeledText> out;
  for_each_record(bytes, name, [&](const std::string& where, int line, const json& r) {
    GPT2_CHECK(r.is_object(), where, ": expected a JSON object, got ", r.type_name());
    LabeledText e;
    e.text = string_field(r, "text", true, false, where);
    e.label = string_field(r, "label", true, false, where);
    e.line = line;
    out.push_back(std::move(e));
  });
  GPT2_CHECK(!out.empty(), name, ": no examples");
  return out;
}

std::vector<LabeledText> read_labeled_texts(const std::filesystem::path& path) {
  return parse_labeled_texts(read_file(path), path.string());
}

std::vector<std::string> collect_labels(const std::vector<LabeledText>& examples) {
  std::vector<std::string> labels;
  for (const LabeledText& e : examples) labels.push_back(e.label);
  std::sort(labels.begin(), labels.end());
  labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
  return labels;
}

std::vector<int> label_ids(const std::vector<LabeledText>& examples, const std::vector<std::string>& labels,
                           const std::string& name) {
  std::vector<int> ids;
  for (const LabeledText& e : examples) {
    const auto it = std::find(labels.begin(), labels.end(), e.label);
    if (it == labels.end()) {
      std::string known;
      for (const std::string& l : labels) known += (known.empty() ? "" : ", ") + l;
      fail(name, ":", e.line, ": unknown label '", e.label, "' (the labels are: ", known, ")");
    }
    ids.push_back(static_cast<int>(it - labels.begin()));
  }
  return ids;
}

std::string to_jsonl_line(const InstructionExample& e) {
  nlohmann::ordered_json j;  // the fields in Alpaca's order
  j["instruction"] = e.instruction;
  j["input"] = e.input;
  j["output"] = e.output;
  return j.dump();
}

std::string to_jsonl_line(const LabeledText& e) {
  nlohmann::ordered_json j;
  j["text"] = e.text;
  j["label"] = e.label;
  return j.dump();
}

}  // namespace gpt2
