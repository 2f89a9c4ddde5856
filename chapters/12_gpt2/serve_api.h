/// @file serve_api.h
/// @brief The JSON of `gpt2 serve`'s API: reading and checking requests, writing responses in
/// OpenAI's shapes. Plain functions over strings, with no HTTP and no model, so that the tests and
/// a fuzzer can call them directly.
///
/// **Requests.** `parse_completion_request(body, limits)` reads the body of `POST /v1/completions`
/// (and its two siblings read `/v1/chat/completions` and the page's own endpoints). Anything wrong
/// throws an ApiError that names the field: the body is not JSON (with the field being read where
/// the error is, e.g. an invalid UTF-8 byte inside `"prompt"`), not an object, a field of the
/// wrong type (`"max_tokens": "10"`), a value out of range (`"temperature": 5`), a field we do not
/// know (OpenAI answers `unrecognized request argument`, and so do we), or a known OpenAI field at
/// a value we do not implement (`"n": 2`). Every field may also be `null`, meaning "not given".
/// Besides OpenAI's fields we take two that llama.cpp's and vLLM's servers take: `top_k`, and
/// `ignore_eos` (generate exactly `max_tokens` tokens, as benchmarks and load tests want).
///
/// **Responses.** OpenAI's objects: `text_completion` (the legacy completions endpoint, streamed
/// as a sequence of the same object with `choices[0].text` holding each new piece),
/// `chat.completion` and `chat.completion.chunk` (streamed with `choices[0].delta`), `list` of
/// `model`, and errors as `{"error": {"message", "type", "param", "code"}}`. A stream is
/// server-sent events: `data: {json}\n\n` per chunk and `data: [DONE]\n\n` at the end.
///
/// **Text.** A token is bytes, and a text cut after any token need not be valid UTF-8 (a
/// character can span two tokens). StopTextStream turns the tokens' bytes into the pieces a
/// stream sends: it holds back an incomplete character (chapter 07's utf8_complete_prefix) and
/// anything that may be the start of a stop string, and ends the text before a stop string. JSON
/// strings must be UTF-8, so bytes that never become valid are written as U+FFFD.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "chapters/12_gpt2/chat_template.h"

namespace gpt2 {

/// A request the server refuses: the HTTP status and OpenAI's error fields.
struct ApiError : std::runtime_error {
  ApiError(int status, const std::string& message, std::string param = "",
           std::string type = "invalid_request_error")
      : std::runtime_error(message), status(status), param(std::move(param)), type(std::move(type)) {}
  int status;         ///< 400 bad request, 404 unknown path, 413 too large, 503 queue full, ...
  std::string param;  ///< the field at fault ("max_tokens", "messages[1].content"), or "" for none
  std::string type;   ///< "invalid_request_error", or "server_error"
};

/// `{"error": {"message": ..., "type": ..., "param": ... or null, "code": null}}`.
nlohmann::json error_json(const ApiError& e);

/// What the server accepts; each has a `gpt2 serve` flag.
struct ServeLimits {
  size_t max_body_bytes = 1 << 20;  ///< --max-body-bytes: larger bodies get 413
  int max_prompt_tokens = 0;        ///< --max-prompt-tokens: 0 means the model's context
  int max_tokens = 1024;            ///< --max-tokens: the largest `max_tokens` a request may ask
  int max_queue = 16;               ///< --max-queue: requests waiting behind the running one
  int max_inspect_tokens = 128;     ///< --max-inspect-tokens: prompt length for attention / logit lens
  int max_tokenize_tokens = 65536;  ///< tokens one /api/tokenize call returns at most
  int vocab_size = 50257;           ///< the model's vocabulary (token ids in a prompt must be below it)
};

/// The sampling fields shared by both completion endpoints.
struct SamplingRequest {
  int max_tokens = 16;  ///< OpenAI's default for completions; chat defaults to ServeLimits::max_tokens
  float temperature = 1.0f;
  float top_p = 1.0f;
  int top_k = 0;  ///< not OpenAI's, but llama.cpp's and vLLM's
  std::optional<uint64_t> seed;
  std::vector<std::string> stop;  ///< up to 4 non-empty strings
  bool stream = false;
  bool include_usage = false;  ///< stream_options.include_usage
  bool ignore_eos = false;     ///< go on past <|endoftext|> (vLLM's name): exactly max_tokens tokens
  int logprobs = -1;           ///< -1: none; else how many alternatives to report per token (0 to 5)
};

/// `POST /v1/completions`.
struct CompletionRequest {
  SamplingRequest sampling;
  std::string model;
  std::string prompt;              ///< the text, when the prompt is a string
  std::vector<int> prompt_tokens;  ///< the ids, when the prompt is an array of token ids
  bool prompt_is_tokens = false;
};

/// `POST /v1/chat/completions`.
struct ChatRequest {
  SamplingRequest sampling;
  std::string model;
  std::vector<ChatMessage> messages;
};

/// The page's endpoints: `{"text": "..."}`, with `"top"` for the logit lens and `"id"` for merges.
struct InspectRequest {
  std::string text;
  int top = 5;  ///< alternatives per cell of the logit lens (1 to 20)
  int id = -1;  ///< a token id (/api/merges)
};

/// The bodies of the endpoints, checked. Throw ApiError(400, ...) naming the field.
CompletionRequest parse_completion_request(std::string_view body, const ServeLimits& limits);
ChatRequest parse_chat_request(std::string_view body, const ServeLimits& limits);
InspectRequest parse_inspect_request(std::string_view body, const ServeLimits& limits);

/// Parses a JSON body as an object; a syntax error, invalid UTF-8 or a non-object is an ApiError
/// that names the field being read when it went wrong.
nlohmann::json parse_json_object(std::string_view body);

/// Whether `s` is valid UTF-8.
bool is_valid_utf8(std::string_view s);

/// Turns generated token bytes into text pieces: see the file comment.
class StopTextStream {
 public:
  explicit StopTextStream(std::vector<std::string> stop = {}) : stop_(std::move(stop)) {}
  /// Adds one token's bytes; returns the text that is final now (possibly empty).
  std::string push(std::string_view bytes);
  /// The rest, at the end of generation (nothing after a stop string).
  std::string flush();
  /// True once a stop string appeared: the caller should stop generating.
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stop_;
  std::string pending_;
  bool stopped_ = false;
};

/// One generated token for the `logprobs` of a response.
struct TokenLogprob {
  int id = 0;
  std::string bytes;
  float logprob = 0;
  std::vector<TokenLogprob> top;  ///< the most probable alternatives (their own `top` is empty)
};

/// A token's bytes as OpenAI writes a token: the text if it is valid UTF-8, else `bytes:\xNN...`.
std::string token_display(std::string_view bytes);

/// Identity of one response: every chunk of a stream carries the same.
struct ResponseMeta {
  std::string id;       ///< "cmpl-..." or "chatcmpl-..."
  int64_t created = 0;  ///< Unix seconds
  std::string model;
};

/// Token counts for `usage`.
struct Usage {
  int prompt_tokens = 0, completion_tokens = 0;
};

/// `finish_reason`: "stop" (end of text or a stop string) or "length" (max_tokens).
/// The legacy completions' `logprobs` object for these tokens (text_offset counts bytes from the
/// start of the prompt, whose length is `offset0`), plus our `token_ids`.
nlohmann::json completion_logprobs_json(const std::vector<TokenLogprob>& tokens, size_t offset0);
/// The chat's `logprobs` object: `{"content": [{"token", "logprob", "bytes", "top_logprobs"}]}`.
nlohmann::json chat_logprobs_json(const std::vector<TokenLogprob>& tokens);

/// A whole `text_completion` (non-streamed) or one streamed chunk of it. `finish_reason` "" is
/// JSON null (a chunk before the last); `logprobs` null when not asked for.
nlohmann::json completion_json(const ResponseMeta& meta, const std::string& text,
                               const std::string& finish_reason, const nlohmann::json& logprobs,
                               const Usage* usage);
/// A whole `chat.completion`.
nlohmann::json chat_completion_json(const ResponseMeta& meta, const std::string& content,
                                    const std::string& finish_reason, const nlohmann::json& logprobs,
                                    const Usage& usage);
/// One `chat.completion.chunk`: `delta` holds the role (first chunk) and/or the new content.
nlohmann::json chat_chunk_json(const ResponseMeta& meta, const nlohmann::json& delta,
                               const std::string& finish_reason, const nlohmann::json& logprobs);
/// The last chunk of a stream with `stream_options.include_usage`: no choices, only usage.
nlohmann::json usage_chunk_json(const ResponseMeta& meta, const std::string& object, const Usage& usage);
/// `{"prompt_tokens", "completion_tokens", "total_tokens"}`.
nlohmann::json usage_json(const Usage& usage);

/// One server-sent event: `data: <json>\n\n` (invalid UTF-8 written as U+FFFD).
std::string sse_event(const nlohmann::json& j);
/// The end of a stream: `data: [DONE]\n\n`.
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";
/// A JSON value as text, invalid UTF-8 written as U+FFFD.
std::string dump_json(const nlohmann::json& j);

}  // namespace gpt2
