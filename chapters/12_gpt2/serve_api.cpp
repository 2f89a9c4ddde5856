// The API's JSON: see serve_api.h.
#include "chapters/12_gpt2/serve_api.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "chapters/01_tokenizer/utf8.h"
#include "chapters/07_sampling/utf8_stream.h"
#include "common/error.h"

namespace gpt2 {

using nlohmann::json;

json error_json(const ApiError& e) {
  return {{"error",
           {{"message", e.what()},
            {"type", e.type},
            {"param", e.param.empty() ? json(nullptr) : json(e.param)},
            {"code", nullptr}}}};
}

bool is_valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const Utf8Char c = decode_utf8(s, i);
    if (!c.valid) return false;
    i += c.length;
  }
  return true;
}

std::string dump_json(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string sse_event(const json& j) {
  return "data: " + dump_json(j) + "\n\n";
}

// ----- parsing the body ------------------------------------------------------------------------

namespace {

// Follows a SAX parse and knows, at any moment, which field is being read: "prompt",
// "messages[1].content". Used only to say where a body that is not valid JSON goes wrong.
class FieldTracker : public json::json_sax_t {
 public:
  std::string path() const {
    std::string p;
    for (const Frame& f : stack_) {
      if (f.array)
        p += "[" + std::to_string(f.count) + "]";
      else if (!f.key.empty())
        p += (p.empty() ? "" : ".") + f.key;
    }
    return p;
  }
  size_t error_byte = 0;
  std::string error_what;

  bool null() override { return value(); }
  bool boolean(bool) override { return value(); }
  bool number_integer(number_integer_t) override { return value(); }
  bool number_unsigned(number_unsigned_t) override { return value(); }
  bool number_float(number_float_t, const string_t&) override { return value(); }
  bool string(string_t&) override { return value(); }
  bool binary(binary_t&) override { return value(); }
  bool start_object(std::size_t) override {
    stack_.push_back({false, 0, ""});
    return true;
  }
  bool key(string_t& k) override {
    stack_.back().key = k;
    return true;
  }
  bool end_object() override { return end(); }
  bool start_array(std::size_t) override {
    stack_.push_back({true, 0, ""});
    return true;
  }
  bool end_array() override { return end(); }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& ex) override {
    error_byte = position;
    error_what = ex.what();
    return false;
  }

 private:
  struct Frame {
    bool array;
    int count;  // elements of an array read so far: the one being read has this index
    std::string key;
  };
  // A value was read: the next one in an array has the next index; in an object, no field is
  // being read until the next key.
  bool value() {
    if (!stack_.empty()) {
      if (stack_.back().array)
        ++stack_.back().count;
      else
        stack_.back().key.clear();
    }
    return true;
  }
  bool end() {
    stack_.pop_back();
    return value();
  }
  std::vector<Frame> stack_;
};

// "... while parsing value - invalid string: ill-formed UTF-8 byte; last read: '..'" -> the reason.
std::string parse_reason(const std::string& what) {
  std::string r = what;
  if (size_t p = r.find(" - "); p != std::string::npos)
    r = r.substr(p + 3);
  else if (size_t q = r.find("] "); q != std::string::npos)
    r = r.substr(q + 2);
  if (size_t p = r.find("; last read"); p != std::string::npos) r = r.substr(0, p);
  return r;
}

std::string type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "an integer";
    case json::value_t::number_float:
      return "a number";
    case json::value_t::string:
      return "a string";
    case json::value_t::array:
      return "an array";
    case json::value_t::object:
      return "an object";
    default:
      return "something else";
  }
}

[[noreturn]] void wrong_type(const std::string& name, const std::string& expected, const json& v) {
  throw ApiError(
      400, cat("invalid type for '", name, "': expected ", expected, ", but got ", type_name(v), " instead"),
      name);
}

template <typename T>
[[noreturn]] void out_of_range(const std::string& name, const std::string& range, T got) {
  throw ApiError(400, cat("invalid '", name, "': ", range, ", got ", got), name);
}

// Reads the fields of one JSON object, each checked for its type and range. `prefix` names the
// object in messages ("messages[2]." for a message).
class Fields {
 public:
  Fields(const json& object, std::string prefix = "") : obj_(object), prefix_(std::move(prefix)) {}

  // Every key must be one of `known`: OpenAI rejects what it does not know, and so do we.
  void only(std::initializer_list<std::string_view> known) const {
    for (const auto& [key, value] : obj_.items()) {
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        // A key can be as long as the body: the message quotes its first 100 bytes.
        const std::string shown = key.size() > 100 ? key.substr(0, 100) + "..." : key;
        throw ApiError(400, cat("unrecognized request argument supplied: ", prefix_, shown), prefix_ + key);
      }
    }
  }
  // The value, or nullptr when it is absent or null (both mean "not given").
  const json* get(const std::string& key) const {
    auto it = obj_.find(key);
    return it == obj_.end() || it->is_null() ? nullptr : &*it;
  }
  std::string name(const std::string& key) const { return prefix_ + key; }

  std::optional<int64_t> integer(const std::string& key, int64_t lo, int64_t hi,
                                 const std::string& why = "") const {
    const json* v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_number_integer()) wrong_type(name(key), "an integer", *v);
    if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(hi))
      out_of_range(name(key), cat("must be between ", lo, " and ", hi, why), v->get<uint64_t>());
    const int64_t x = v->is_number_unsigned() ? static_cast<int64_t>(v->get<uint64_t>()) : v->get<int64_t>();
    if (x < lo || x > hi) out_of_range(name(key), cat("must be between ", lo, " and ", hi, why), x);
    return x;
  }
  // A finite number in [lo, hi] (or (lo, hi] when lo_open).
  std::optional<double> number(const std::string& key, double lo, double hi, bool lo_open = false) const {
    const json* v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_number()) wrong_type(name(key), "a number", *v);
    const double x = v->get<double>();
    if (!std::isfinite(x) || (lo_open ? x <= lo : x < lo) || x > hi)
      out_of_range(name(key), cat("must be ", lo_open ? "> " : ">= ", lo, " and <= ", hi), x);
    return x;
  }
  std::optional<bool> boolean(const std::string& key) const {
    const json* v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_boolean()) wrong_type(name(key), "a boolean", *v);
    return v->get<bool>();
  }
  std::optional<std::string> string(const std::string& key) const {
    const json* v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_string()) wrong_type(name(key), "a string", *v);
    return v->get<std::string>();
  }
  // A known OpenAI field we accept only at its neutral value.
  template <typename T>
  void only_value(const std::string& key, T neutral, const std::string& what) const {
    const json* v = get(key);
    if (v && *v != json(neutral))
      throw ApiError(400, cat("'", name(key), "' is not supported by this server (", what, ")"), name(key));
  }

 private:
  const json& obj_;
  std::string prefix_;
};

// The sampling fields both completion endpoints share.
void read_sampling(const Fields& f, SamplingRequest& s, const ServeLimits& limits, bool chat) {
  const std::string why = " (the server's --max-tokens)";
  if (chat) {
    s.max_tokens = limits.max_tokens;
    if (auto v = f.integer("max_completion_tokens", 0, limits.max_tokens, why))
      s.max_tokens = static_cast<int>(*v);
  }
  if (auto v = f.integer("max_tokens", 0, limits.max_tokens, why)) s.max_tokens = static_cast<int>(*v);
  if (auto v = f.number("temperature", 0, 2)) s.temperature = static_cast<float>(*v);
  if (auto v = f.number("top_p", 0, 1, /*lo_open=*/true)) s.top_p = static_cast<float>(*v);
  if (auto v = f.integer("top_k", 0, 1 << 30)) s.top_k = static_cast<int>(*v);
  if (const json* v = f.get("seed")) {
    if (!v->is_number_integer()) wrong_type("seed", "an integer", *v);
    s.seed = v->is_number_unsigned() ? v->get<uint64_t>() : static_cast<uint64_t>(v->get<int64_t>());
  }
  if (const json* v = f.get("stop")) {
    if (v->is_string()) {
      s.stop = {v->get<std::string>()};
    } else if (v->is_array()) {
      if (v->size() > 4)
        throw ApiError(400, cat("invalid 'stop': at most 4 stop strings, got ", v->size()), "stop");
      for (size_t i = 0; i < v->size(); ++i) {
        if (!(*v)[i].is_string()) wrong_type(cat("stop[", i, "]"), "a string", (*v)[i]);
        s.stop.push_back((*v)[i].get<std::string>());
      }
    } else {
      wrong_type("stop", "a string or an array of strings", *v);
    }
    for (size_t i = 0; i < s.stop.size(); ++i) {
      if (s.stop[i].empty() || s.stop[i].size() > 256)
        throw ApiError(400, "invalid 'stop': each stop string must have 1 to 256 bytes", "stop");
    }
  }
  s.stream = f.boolean("stream").value_or(false);
  s.ignore_eos = f.boolean("ignore_eos").value_or(false);
  if (const json* v = f.get("stream_options")) {
    if (!v->is_object()) wrong_type("stream_options", "an object", *v);
    if (!s.stream)
      throw ApiError(400, "'stream_options' is only allowed when 'stream' is true", "stream_options");
    Fields o(*v, "stream_options.");
    o.only({"include_usage"});
    s.include_usage = o.boolean("include_usage").value_or(false);
  }
  f.only_value("n", 1, "one choice per request");
  f.only_value("presence_penalty", 0, "no penalties");
  f.only_value("frequency_penalty", 0, "no penalties");
  if (const json* v = f.get("logit_bias"); v && !(v->is_object() && v->empty()))
    throw ApiError(400, "'logit_bias' is not supported by this server", "logit_bias");
  f.string("user");  // accepted and ignored, as an identifier of the caller
  f.string("model");
}

}  // namespace

json parse_json_object(std::string_view body) {
  json j;
  try {
    j = json::parse(body);
  } catch (const json::exception&) {
    // Parse again, following the fields, to say where it went wrong.
    FieldTracker tracker;
    json::sax_parse(body, &tracker);
    const std::string where = tracker.path();
    const std::string reason = parse_reason(tracker.error_what);
    if (reason.find("UTF-8") != std::string::npos)
      throw ApiError(400,
                     cat(where.empty() ? "the body" : "'" + where + "'", " is not valid UTF-8 (byte ",
                         tracker.error_byte, " of the body)"),
                     where);
    throw ApiError(400,
                   cat("the body is not valid JSON (", reason, " at byte ", tracker.error_byte,
                       where.empty() ? "" : ", in '" + where + "'", ")"),
                   where);
  }
  if (!j.is_object()) throw ApiError(400, cat("the body must be a JSON object, got ", type_name(j)));
  return j;
}

CompletionRequest parse_completion_request(std::string_view body, const ServeLimits& limits) {
  const json j = parse_json_object(body);
  const Fields f(j);
  f.only({"model",   "prompt",           "max_tokens",        "temperature", "top_p",      "top_k", "seed",
          "stop",    "stream",           "stream_options",    "logprobs",    "ignore_eos", "n",     "echo",
          "best_of", "presence_penalty", "frequency_penalty", "logit_bias",  "user",       "suffix"});
  CompletionRequest r;
  read_sampling(f, r.sampling, limits, /*chat=*/false);
  r.model = f.string("model").value_or("");
  if (auto v = f.integer("logprobs", 0, 5)) r.sampling.logprobs = static_cast<int>(*v);
  f.only_value("echo", false, "the prompt is not echoed");
  f.only_value("best_of", 1, "one candidate per request");
  if (auto v = f.string("suffix"); v && !v->empty())
    throw ApiError(400, "'suffix' is not supported by this server (GPT-2 only continues text)", "suffix");
  const json* p = f.get("prompt");
  if (!p)
    throw ApiError(400, "you must provide a 'prompt' (an empty string starts from <|endoftext|>)", "prompt");
  if (p->is_string()) {
    r.prompt = p->get<std::string>();
  } else if (p->is_array() && !p->empty() && (*p)[0].is_number()) {
    r.prompt_is_tokens = true;
    for (size_t i = 0; i < p->size(); ++i) {
      const json& id = (*p)[i];
      const std::string name = cat("prompt[", i, "]");
      if (!id.is_number_integer()) wrong_type(name, "a token id (an integer)", id);
      if (id.is_number_unsigned() ? id.get<uint64_t>() >= static_cast<uint64_t>(limits.vocab_size)
                                  : (id.get<int64_t>() < 0 || id.get<int64_t>() >= limits.vocab_size))
        throw ApiError(
            400,
            cat("invalid '", name, "': a token id must be in [0, ", limits.vocab_size, "), got ", id.dump()),
            name);
      r.prompt_tokens.push_back(id.get<int>());
    }
  } else if (p->is_array() && p->size() == 1 && (*p)[0].is_string()) {
    r.prompt = (*p)[0].get<std::string>();  // a batch of one prompt
  } else if (p->is_array() && p->empty()) {
    throw ApiError(400, "invalid 'prompt': an empty array (give a string, or at least one token id)",
                   "prompt");
  } else if (p->is_array() && (*p)[0].is_string()) {
    throw ApiError(400,
                   cat("invalid 'prompt': a batch of ", p->size(),
                       " prompts; this server answers one prompt per request"),
                   "prompt");
  } else {
    throw ApiError(400,
                   cat("invalid type for 'prompt': expected a string or an array of token ids, but got ",
                       p->is_array() ? "an array of other things" : type_name(*p), " instead"),
                   "prompt");
  }
  return r;
}

ChatRequest parse_chat_request(std::string_view body, const ServeLimits& limits) {
  const json j = parse_json_object(body);
  const Fields f(j);
  f.only({"model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k", "seed",
          "stop", "stream", "stream_options", "logprobs", "top_logprobs", "ignore_eos", "n",
          "presence_penalty", "frequency_penalty", "logit_bias", "user"});
  ChatRequest r;
  read_sampling(f, r.sampling, limits, /*chat=*/true);
  r.model = f.string("model").value_or("");
  const bool logprobs = f.boolean("logprobs").value_or(false);
  if (auto v = f.integer("top_logprobs", 0, 20)) {
    if (!logprobs) throw ApiError(400, "'top_logprobs' needs 'logprobs': true", "top_logprobs");
    r.sampling.logprobs = static_cast<int>(*v);
  } else if (logprobs) {
    r.sampling.logprobs = 0;
  }
  const json* m = f.get("messages");
  if (!m) throw ApiError(400, "you must provide 'messages'", "messages");
  if (!m->is_array()) wrong_type("messages", "an array", *m);
  if (m->empty()) throw ApiError(400, "'messages' must have at least one message", "messages");
  for (size_t i = 0; i < m->size(); ++i) {
    const std::string prefix = cat("messages[", i, "]");
    const json& msg = (*m)[i];
    if (!msg.is_object()) wrong_type(prefix, "an object", msg);
    const Fields mf(msg, prefix + ".");
    mf.only({"role", "content", "name"});
    mf.string("name");
    ChatMessage cm;
    const auto role = mf.string("role");
    if (!role) throw ApiError(400, cat("'", prefix, ".role' is missing"), prefix + ".role");
    cm.role = *role == "developer" ? "system" : *role;  // OpenAI's newer name for the system role
    if (!is_chat_role(cm.role))
      throw ApiError(
          400,
          cat("invalid '", prefix, ".role': expected 'system', 'user' or 'assistant', got '", *role, "'"),
          prefix + ".role");
    const json* content = mf.get("content");
    if (!content) throw ApiError(400, cat("'", prefix, ".content' is missing"), prefix + ".content");
    if (content->is_string()) {
      cm.content = content->get<std::string>();
    } else if (content->is_array()) {
      // OpenAI's list of parts; we read text parts: [{"type": "text", "text": "..."}].
      for (size_t k = 0; k < content->size(); ++k) {
        const std::string pname = cat(prefix, ".content[", k, "]");
        const json& part = (*content)[k];
        if (!part.is_object()) wrong_type(pname, "an object", part);
        const Fields pf(part, pname + ".");
        pf.only({"type", "text"});
        if (pf.string("type").value_or("") != "text")
          throw ApiError(400, cat("invalid '", pname, ".type': only 'text' parts are supported"),
                         pname + ".type");
        cm.content += pf.string("text").value_or("");
      }
    } else {
      wrong_type(prefix + ".content", "a string", *content);
    }
    r.messages.push_back(std::move(cm));
  }
  // The template writes turns in one order (chat_template.h): say which message breaks it.
  const auto [problem, at] = chat_order_problem(r.messages);
  if (!problem.empty())
    throw ApiError(400, cat("invalid 'messages[", at, "]': ", problem), cat("messages[", at, "].role"));
  return r;
}

InspectRequest parse_inspect_request(std::string_view body, const ServeLimits& limits) {
  const json j = parse_json_object(body);
  const Fields f(j);
  f.only({"text", "top", "id"});
  InspectRequest r;
  r.text = f.string("text").value_or("");
  if (auto v = f.integer("top", 1, 20)) r.top = static_cast<int>(*v);
  if (auto v = f.integer("id", 0, limits.vocab_size - 1)) r.id = static_cast<int>(*v);
  return r;
}

// ----- the text of a stream --------------------------------------------------------------------

std::string StopTextStream::push(std::string_view bytes) {
  if (stopped_) return "";
  pending_ += bytes;
  // The earliest stop string in what is held: the text ends right before it.
  size_t first = std::string::npos;
  for (const std::string& s : stop_) first = std::min(first, pending_.find(s));
  if (first != std::string::npos) {
    std::string out = pending_.substr(0, first);
    pending_.clear();
    stopped_ = true;
    return out;
  }
  // Hold back the longest end of the text that could still grow into a stop string...
  size_t hold = 0;
  for (const std::string& s : stop_) {
    for (size_t k = std::min(s.size() - 1, pending_.size()); k > hold; --k) {
      if (pending_.compare(pending_.size() - k, k, s, 0, k) == 0) {
        hold = k;
        break;
      }
    }
  }
  // ...and an incomplete character before it.
  const size_t cut = utf8_complete_prefix(std::string_view(pending_).substr(0, pending_.size() - hold));
  std::string out = pending_.substr(0, cut);
  pending_.erase(0, cut);
  return out;
}

std::string StopTextStream::flush() {
  if (stopped_) return "";
  std::string out;
  out.swap(pending_);
  return out;
}

// ----- responses -------------------------------------------------------------------------------

std::string token_display(std::string_view bytes) {
  if (is_valid_utf8(bytes)) return std::string(bytes);
  std::string out = "bytes:";
  for (unsigned char b : bytes) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "\\x%02x", b);
    out += hex;
  }
  return out;
}

json usage_json(const Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens}};
}

json completion_logprobs_json(const std::vector<TokenLogprob>& tokens, size_t offset0) {
  json out = {{"tokens", json::array()},
              {"token_logprobs", json::array()},
              {"top_logprobs", json::array()},
              {"text_offset", json::array()},
              {"token_ids", json::array()}};
  size_t offset = offset0;
  for (const TokenLogprob& t : tokens) {
    out["tokens"].push_back(token_display(t.bytes));
    out["token_logprobs"].push_back(t.logprob);
    json top = json::object();
    for (const TokenLogprob& a : t.top) top[token_display(a.bytes)] = a.logprob;
    out["top_logprobs"].push_back(top);
    out["text_offset"].push_back(offset);
    out["token_ids"].push_back(t.id);
    offset += t.bytes.size();
  }
  return out;
}

json chat_logprobs_json(const std::vector<TokenLogprob>& tokens) {
  auto entry = [](const TokenLogprob& t) {
    json bytes = json::array();
    for (unsigned char b : t.bytes) bytes.push_back(static_cast<int>(b));
    return json{{"token", token_display(t.bytes)}, {"logprob", t.logprob}, {"bytes", bytes}};
  };
  json content = json::array();
  for (const TokenLogprob& t : tokens) {
    json e = entry(t);
    e["top_logprobs"] = json::array();
    for (const TokenLogprob& a : t.top) e["top_logprobs"].push_back(entry(a));
    content.push_back(e);
  }
  return {{"content", content}, {"refusal", nullptr}};
}

static json finish(const std::string& reason) {
  return reason.empty() ? json(nullptr) : json(reason);
}

json completion_json(const ResponseMeta& meta, const std::string& text, const std::string& finish_reason,
                     const json& logprobs, const Usage* usage) {
  json j = {
      {"id", meta.id},
      {"object", "text_completion"},
      {"created", meta.created},
      {"model", meta.model},
      {"choices",
       {{{"text", text}, {"index", 0}, {"logprobs", logprobs}, {"finish_reason", finish(finish_reason)}}}}};
  if (usage) j["usage"] = usage_json(*usage);
  return j;
}

json chat_completion_json(const ResponseMeta& meta, const std::string& content,
                          const std::string& finish_reason, const json& logprobs, const Usage& usage) {
  return {{"id", meta.id},
          {"object", "chat.completion"},
          {"created", meta.created},
          {"model", meta.model},
          {"choices",
           {{{"index", 0},
             {"message", {{"role", "assistant"}, {"content", content}}},
             {"logprobs", logprobs},
             {"finish_reason", finish(finish_reason)}}}},
          {"usage", usage_json(usage)}};
}

json chat_chunk_json(const ResponseMeta& meta, const json& delta, const std::string& finish_reason,
                     const json& logprobs) {
  return {
      {"id", meta.id},
      {"object", "chat.completion.chunk"},
      {"created", meta.created},
      {"model", meta.model},
      {"choices",
       {{{"index", 0}, {"delta", delta}, {"logprobs", logprobs}, {"finish_reason", finish(finish_reason)}}}}};
}

json usage_chunk_json(const ResponseMeta& meta, const std::string& object, const Usage& usage) {
  return {{"id", meta.id},       {"object", object},         {"created", meta.created},
          {"model", meta.model}, {"choices", json::array()}, {"usage", usage_json(usage)}};
}

}  // namespace gpt2
