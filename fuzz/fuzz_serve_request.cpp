// Fuzz target: the request bodies of `gpt2 serve` (chapter 12's serve_api.h), as the server reads
// them before any model work: the first byte chooses the endpoint (/v1/completions,
// /v1/chat/completions, or the page's /api/... endpoints), the rest is the body. A refused body
// is an ApiError with a 4xx status whose error JSON writes, naming a field the body has (unless
// the field is missing); an accepted one holds only values in their ranges, and:
//  - a chat's messages are in an order the template writes, and tokenize into a prompt that
//    ends with the response marker;
//  - a completion's token ids are in the vocabulary, and its prompt's bytes streamed through
//    StopTextStream in pieces (cut where the input says) come out as the text before the first
//    stop string, every piece valid UTF-8.
#include <algorithm>
#include <string>
#include <vector>

#include "chapters/01_tokenizer/tokenizer.h"
#include "chapters/10_finetuning/chat_template.h"
#include "chapters/12_gpt2/chat_template.h"
#include "chapters/12_gpt2/serve_api.h"
#include "common/testing.h"
#include "fuzz/fuzz_util.h"

namespace {

const gpt2::Tokenizer& tokenizer() {
  static const gpt2::Tokenizer tok = gpt2::Tokenizer::load(gpt2::data_dir() + "/gpt2");
  return tok;
}

void check_sampling(const gpt2::SamplingRequest& s, const gpt2::ServeLimits& limits) {
  FUZZ_CHECK(s.max_tokens >= 0 && s.max_tokens <= limits.max_tokens);
  FUZZ_CHECK(s.temperature >= 0 && s.temperature <= 2);
  FUZZ_CHECK(s.top_p > 0 && s.top_p <= 1);
  FUZZ_CHECK(s.top_k >= 0);
  FUZZ_CHECK(s.logprobs >= -1 && s.logprobs <= 20);
  FUZZ_CHECK(s.stop.size() <= 4);
  for (const std::string& stop : s.stop) FUZZ_CHECK(!stop.empty() && stop.size() <= 256);
  FUZZ_CHECK(!s.include_usage || s.stream);
}

// The prompt's bytes pushed through a StopTextStream in pieces whose lengths come from `cuts`.
void check_stream(const std::string& text, const std::vector<std::string>& stop, std::string_view cuts) {
  size_t end = std::string::npos;
  for (const std::string& s : stop) end = std::min(end, text.find(s));
  const std::string expected = text.substr(0, end);
  gpt2::StopTextStream stream(stop);
  std::string out;
  size_t pos = 0, k = 0;
  while (pos < text.size() && !stream.stopped()) {
    const size_t n = cuts.empty() ? 1 : 1 + static_cast<unsigned char>(cuts[k++ % cuts.size()]) % 8;
    const std::string piece = stream.push(std::string_view(text).substr(pos, n));
    FUZZ_CHECK(gpt2::is_valid_utf8(piece));
    out += piece;
    pos += n;
  }
  out += stream.flush();
  FUZZ_CHECK(out == expected);
  FUZZ_CHECK(stream.stopped() == (end != std::string::npos));
}

void check_completion(std::string_view body, const gpt2::ServeLimits& limits) {
  const gpt2::CompletionRequest r = gpt2::parse_completion_request(body, limits);
  check_sampling(r.sampling, limits);
  FUZZ_CHECK(r.sampling.logprobs <= 5);
  if (r.prompt_is_tokens) {
    FUZZ_CHECK(r.prompt.empty() && !r.prompt_tokens.empty());
    for (int id : r.prompt_tokens) FUZZ_CHECK(id >= 0 && id < limits.vocab_size);
    return;
  }
  FUZZ_CHECK(gpt2::is_valid_utf8(r.prompt));
  check_stream(r.prompt, r.sampling.stop, body.substr(0, 64));
}

void check_chat(std::string_view body, const gpt2::ServeLimits& limits) {
  const gpt2::ChatRequest r = gpt2::parse_chat_request(body, limits);
  check_sampling(r.sampling, limits);
  FUZZ_CHECK(!r.messages.empty());
  FUZZ_CHECK(gpt2::chat_order_problem(r.messages).first.empty());
  const gpt2::Tokenizer& tok = tokenizer();
  const std::vector<int> prompt = gpt2::chat_prompt(r.messages, tok);
  const std::string text = tok.decode(prompt);
  const std::string_view marker = gpt2::kResponseMarker;
  FUZZ_CHECK(text.size() >= marker.size() &&
             text.compare(text.size() - marker.size(), marker.size(), marker) == 0);
}

void check_inspect(std::string_view body, const gpt2::ServeLimits& limits) {
  const gpt2::InspectRequest r = gpt2::parse_inspect_request(body, limits);
  FUZZ_CHECK(r.top >= 1 && r.top <= 20);
  FUZZ_CHECK(r.id >= -1 && r.id < limits.vocab_size);
  FUZZ_CHECK(gpt2::is_valid_utf8(r.text));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  const gpt2::ServeLimits limits;
  try {
    switch (data[0] % 3) {
      case 0:
        check_completion(body, limits);
        break;
      case 1:
        check_chat(body, limits);
        break;
      default:
        check_inspect(body, limits);
        break;
    }
  } catch (const gpt2::ApiError& e) {
    // What the server answers: a client's error, as JSON that writes.
    FUZZ_CHECK(e.status >= 400 && e.status < 500);
    FUZZ_CHECK(std::string_view(e.what()).size() > 0);
    const std::string answer = gpt2::dump_json(gpt2::error_json(e));
    FUZZ_CHECK(nlohmann::json::parse(answer).contains("error"));
    // The field it names is one of the body's (unless the error is that it is missing).
    const nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    const std::string message = e.what();
    if (j.is_object() && !e.param.empty() && message.find("must provide") == std::string::npos &&
        message.find("is missing") == std::string::npos)
      FUZZ_CHECK(j.contains(e.param) || j.contains(e.param.substr(0, e.param.find_first_of(".["))));
  }
  return 0;
}
