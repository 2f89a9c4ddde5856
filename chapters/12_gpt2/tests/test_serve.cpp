// gpt2 serve: the server on an ephemeral localhost port, driven by an HTTP client (httplib's),
// checked against `gpt2 generate` and the PyTorch reference.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <thread>

#include <nlohmann/json.hpp>

#include "chapters/05_gpt2_model/gpt2.h"
#include "chapters/12_gpt2/chat_template.h"
#include "chapters/12_gpt2/model_dir.h"
#include "chapters/12_gpt2/serve_api.h"
#include "chapters/12_gpt2/serve_model.h"
#include "chapters/12_gpt2/server.h"
#include "chapters/12_gpt2/tests/cli_harness.h"
#include "common/safetensors.h"
#include "common/testing.h"
#include "tests/catch.h"

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string kTinyModel = gpt2::fixture_dir() + "/12_tiny_model";
const std::string kPrompt = "To be, or not to be";  // the prompt of tests/reference/12_cli.py

// The server in this process, on 127.0.0.1 and a free port, with a client talking to it.
struct TestServer {
  explicit TestServer(const std::string& model_dir = kTinyModel, gpt2::ServeLimits limits = {},
                      const std::string& adapter = "")
      : model(model_dir, gpt2::BackendOptions{}, adapter), server(model, options(limits)) {
    server.bind();
    thread = std::thread([this] { server.run(); });
    client = std::make_unique<httplib::Client>("127.0.0.1", server.port());
    client->set_read_timeout(60, 0);
  }
  ~TestServer() {
    server.stop();
    thread.join();
  }
  static gpt2::ServeOptions options(gpt2::ServeLimits limits) {
    gpt2::ServeOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.limits = limits;
    return o;
  }

  // POSTs JSON; returns (status, body).
  std::pair<int, std::string> post(const std::string& path, const std::string& body,
                                   const std::string& type = "application/json") {
    auto res = client->Post(path.c_str(), body, type.c_str());
    REQUIRE(res);
    return {res->status, res->body};
  }
  json post_json(const std::string& path, const json& body) {
    auto [status, text] = post(path, body.dump());
    INFO(text);
    REQUIRE(status == 200);
    return json::parse(text);
  }
  std::pair<int, std::string> get(const std::string& path) {
    auto res = client->Get(path.c_str());
    REQUIRE(res);
    return {res->status, res->body};
  }
  bool alive() { return get("/v1/models").first == 200; }

  gpt2::ServeModel model;
  gpt2::Server server;
  std::thread thread;
  std::unique_ptr<httplib::Client> client;
};

// The `data:` payloads of a server-sent event stream.
std::vector<std::string> sse_payloads(const std::string& body) {
  std::vector<std::string> out;
  size_t pos = 0;
  while ((pos = body.find("data: ", pos)) != std::string::npos) {
    const size_t end = body.find("\n\n", pos);
    REQUIRE(end != std::string::npos);
    out.push_back(body.substr(pos + 6, end - pos - 6));
    pos = end + 2;
  }
  return out;
}

// What a JSON string holds after invalid UTF-8 was replaced by U+FFFD, as the server writes it.
std::string replaced(const std::string& bytes) {
  return json::parse(gpt2::dump_json(json(bytes))).get<std::string>();
}

std::vector<int> ints(const gpt2::SafetensorsFile& f, const std::string& name) {
  std::vector<int> out;
  for (int64_t x : f.get_int(name)) out.push_back(static_cast<int>(x));
  return out;
}

// `gpt2 generate ... --json`'s new token ids (with --no-stop: the server's `ignore_eos`).
std::vector<int> cli_tokens(std::vector<std::string> args) {
  args.insert(args.begin(), {"generate", "--model", kTinyModel, "--prompt", kPrompt, "--json", "--no-stop"});
  const gpt2_test::Result r = gpt2_test::gpt2_run(args);
  INFO(r.err);
  REQUIRE(r.status == 0);
  return json::parse(r.out).at("tokens").get<std::vector<int>>();
}

}  // namespace

TEST_CASE("serve: GET /v1/models, /v1/models/ID and /api/info", "[serve]") {
  TestServer s;
  auto [status, body] = s.get("/v1/models");
  REQUIRE(status == 200);
  const json models = json::parse(body);
  CHECK(models.at("object") == "list");
  REQUIRE(models.at("data").size() == 1);
  CHECK(models["data"][0].at("id") == "12_tiny_model");
  CHECK(models["data"][0].at("object") == "model");
  CHECK(models["data"][0].at("owned_by").is_string());
  CHECK(models["data"][0].at("created").is_number_integer());
  CHECK(s.get("/v1/models/12_tiny_model").first == 200);
  CHECK(s.get("/v1/models/gpt-4").first == 404);
  const json info = json::parse(s.get("/api/info").second);
  CHECK(info.at("n_layer") == 2);
  CHECK(info.at("n_head") == 4);
  CHECK(info.at("context_length") == 32);
  CHECK(info.at("vocab_size") == 257);
  CHECK(info.at("limits").at("max_prompt_tokens") == 32);
  CHECK(info.at("chat_template").is_string());
}

TEST_CASE("serve: the page is served from the binary", "[serve]") {
  TestServer s;
  auto res = s.client->Get("/");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->get_header_value("Content-Type").starts_with("text/html"));
  CHECK(gpt2_test::contains(res->body, "<script src=\"app.js\""));
  for (const char* path : {"/app.js", "/style.css"}) {
    auto r = s.client->Get(path);
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(!r->body.empty());
  }
}

// The tiny model's greedy continuation, 40 tokens past its 32-token context (so through the
// sliding window), as PyTorch computes it (tests/reference/12_cli.py) and as `gpt2 generate
// --greedy` prints it.
TEST_CASE("serve: greedy completions equal gpt2 generate --greedy and the PyTorch reference",
          "[serve][parity]") {
  const auto ref = gpt2::SafetensorsFile::open(gpt2::fixture_dir() + "/12_cli.safetensors");
  const std::vector<int> expected = ints(ref, "greedy_ids");
  REQUIRE(expected.size() == 40);
  REQUIRE(cli_tokens({"--greedy", "--max-new-tokens", "40"}) == expected);

  TestServer s;
  const json r = s.post_json("/v1/completions", {{"model", "12_tiny_model"},
                                                 {"prompt", kPrompt},
                                                 {"max_tokens", 40},
                                                 {"temperature", 0},
                                                 {"logprobs", 0}});
  CHECK(r.at("object") == "text_completion");
  CHECK(r.at("id").get<std::string>().starts_with("cmpl-"));
  CHECK(r.at("model") == "12_tiny_model");
  REQUIRE(r.at("choices").size() == 1);
  const json& c = r["choices"][0];
  CHECK(c.at("index") == 0);
  CHECK(c.at("finish_reason") == "length");
  CHECK(c.at("logprobs").at("token_ids").get<std::vector<int>>() == expected);
  std::string bytes;
  for (int id : expected) bytes += s.model.token_bytes(id);
  CHECK(c.at("text") == replaced(bytes));
  CHECK(r.at("usage").at("prompt_tokens") == 19);
  CHECK(r.at("usage").at("completion_tokens") == 40);
  CHECK(r.at("usage").at("total_tokens") == 59);

  // The same prompt given as token ids.
  const json by_ids = s.post_json(
      "/v1/completions",
      {{"prompt", ints(ref, "prompt_ids")}, {"max_tokens", 40}, {"temperature", 0}, {"logprobs", 0}});
  CHECK(by_ids["choices"][0]["logprobs"]["token_ids"].get<std::vector<int>>() == expected);
}

TEST_CASE("serve --adapter: greedy completions of the adapted model equal the PEFT script's",
          "[serve][adapter]") {
  // tests/reference/12_peft_cli.py: a PEFT-layout LoRA adapter for 12_chat_model, and that model's
  // greedy tokens after "ROMEO:" with the adapter applied (what `gpt2 generate --adapter` gives).
  const auto ref = gpt2::SafetensorsFile::open(gpt2::fixture_dir() + "/12_peft_cli.safetensors");
  const std::vector<int> expected = ints(ref, "greedy_ids");
  REQUIRE(expected.size() == 24);
  const std::string model = gpt2::fixture_dir() + "/12_chat_model";
  TestServer s(model, {}, gpt2::fixture_dir() + "/12_peft_adapter");
  CHECK(s.model.adapter() == gpt2::fixture_dir() + "/12_peft_adapter");
  const json body = {{"prompt", "ROMEO:"}, {"max_tokens", 24}, {"temperature", 0}, {"logprobs", 0}};
  const json r = s.post_json("/v1/completions", body);
  CHECK(r["choices"][0]["logprobs"]["token_ids"].get<std::vector<int>>() == expected);
  // Without the adapter the same model answers otherwise: the adapter is what changed the tokens.
  TestServer base(model);
  CHECK(base.post_json("/v1/completions", body)["choices"][0]["logprobs"]["token_ids"]
            .get<std::vector<int>>() != expected);
  // An adapter needs float32 weights, and a classifier's adapter is refused: one error each.
  gpt2::BackendOptions q8;
  q8.weights = "q8";
  CHECK_THROWS_WITH(gpt2::ServeModel(model, q8, gpt2::fixture_dir() + "/12_peft_adapter"),
                    Catch::Matchers::Contains("LoRA computes in float32"));
  CHECK_THROWS_WITH(
      gpt2::ServeModel(model, gpt2::BackendOptions{}, gpt2::fixture_dir() + "/12_no_such_adapter"),
      Catch::Matchers::Contains("is not a directory"));
}

TEST_CASE("serve: sampling with a seed equals gpt2 generate with that seed", "[serve]") {
  TestServer s;
  const std::vector<int> expected = cli_tokens(
      {"--seed", "7", "--temperature", "0.9", "--top-k", "20", "--top-p", "0.95", "--max-new-tokens", "30"});
  const json body = {{"prompt", kPrompt}, {"max_tokens", 30}, {"temperature", 0.9}, {"top_k", 20},
                     {"top_p", 0.95},     {"seed", 7},        {"logprobs", 0},      {"ignore_eos", true}};
  const json a = s.post_json("/v1/completions", body);
  const json b = s.post_json("/v1/completions", body);
  CHECK(a["choices"][0]["logprobs"]["token_ids"].get<std::vector<int>>() == expected);
  CHECK(a["choices"][0]["text"] == b["choices"][0]["text"]);
  json other = body;
  other["seed"] = 8;
  CHECK(s.post_json("/v1/completions", other)["choices"][0]["logprobs"]["token_ids"] !=
        a["choices"][0]["logprobs"]["token_ids"]);
}

TEST_CASE("serve: streaming delivers the same text, then [DONE]", "[serve]") {
  TestServer s;
  const json body = {{"prompt", kPrompt}, {"max_tokens", 40}, {"temperature", 0}};
  const std::string whole = s.post_json("/v1/completions", body)["choices"][0]["text"];
  json sbody = body;
  sbody["stream"] = true;
  sbody["stream_options"] = {{"include_usage", true}};
  auto res = s.client->Post("/v1/completions", sbody.dump(), "application/json");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->get_header_value("Content-Type").starts_with("text/event-stream"));
  const std::vector<std::string> events = sse_payloads(res->body);
  REQUIRE(events.size() >= 4);
  CHECK(events.back() == "[DONE]");
  std::string text, id;
  int finished = 0;
  for (size_t i = 0; i + 2 < events.size(); ++i) {
    const json e = json::parse(events[i]);
    CHECK(e.at("object") == "text_completion");
    if (id.empty()) id = e.at("id");
    CHECK(e.at("id") == id);
    text += e["choices"][0].at("text").get<std::string>();
    if (!e["choices"][0]["finish_reason"].is_null()) {
      CHECK(e["choices"][0]["finish_reason"] == "length");
      ++finished;
    }
  }
  CHECK(finished == 1);
  CHECK(text == whole);
  const json usage = json::parse(events[events.size() - 2]);
  CHECK(usage.at("choices").empty());
  CHECK(usage.at("usage").at("completion_tokens") == 40);
}

TEST_CASE("serve: a stop string ends the text before it, streamed or not", "[serve]") {
  TestServer s;
  const json greedy = s.post_json(
      "/v1/completions", {{"prompt", kPrompt}, {"max_tokens", 40}, {"temperature", 0}, {"logprobs", 0}});
  std::string bytes;
  for (int id : greedy["choices"][0]["logprobs"]["token_ids"]) bytes += s.model.token_bytes(id);
  // A stop string: the first printable ASCII character after the first few bytes.
  size_t at = 5;
  while (at < bytes.size() && !(bytes[at] > ' ' && bytes[at] < 127)) ++at;
  REQUIRE(at < bytes.size());
  const std::string stop(1, bytes[at]);
  const std::string expected = replaced(bytes.substr(0, bytes.find(stop)));
  const json body = {
      {"prompt", kPrompt}, {"max_tokens", 40}, {"temperature", 0}, {"stop", {"\x01never", stop}}};
  const json r = s.post_json("/v1/completions", body);
  CHECK(r["choices"][0]["text"] == expected);
  CHECK(r["choices"][0]["finish_reason"] == "stop");
  CHECK(r["usage"]["completion_tokens"] < 40);
  json sbody = body;
  sbody["stream"] = true;
  std::string text;
  for (const std::string& e : sse_payloads(s.post("/v1/completions", sbody.dump()).second)) {
    if (e != "[DONE]") text += json::parse(e)["choices"][0]["text"].get<std::string>();
  }
  CHECK(text == expected);
}

TEST_CASE("serve: logprobs report the model's distribution", "[serve]") {
  TestServer s;
  const json r = s.post_json("/v1/completions",
                             {{"prompt", kPrompt}, {"max_tokens", 8}, {"temperature", 0}, {"logprobs", 5}});
  const json& lp = r["choices"][0]["logprobs"];
  REQUIRE(lp.at("tokens").size() == 8);
  REQUIRE(lp.at("top_logprobs").size() == 8);
  size_t offset = kPrompt.size();
  for (size_t i = 0; i < 8; ++i) {
    const float chosen = lp["token_logprobs"][i];
    CHECK(chosen <= 0);
    const json& top = lp["top_logprobs"][i];
    CHECK(top.size() == 5);
    double best = -1e30, mass = 0;
    for (const auto& [token, value] : top.items()) {
      best = std::max(best, value.get<double>());
      mass += std::exp(value.get<double>());
    }
    CHECK(chosen == Approx(best));  // greedy takes the most probable token
    CHECK(mass <= 1.0 + 1e-6);
    CHECK(lp["text_offset"][i] == offset);
    offset += s.model.token_bytes(lp["token_ids"][i]).size();
  }
}

TEST_CASE("serve: chat completions through the chat template", "[serve]") {
  // The chat template takes 33 byte tokens around a message: more than 12_tiny_model's context of 32,
  // so this test serves 12_chat_model (the same kind, with 128 positions).
  TestServer s(gpt2::fixture_dir() + "/12_chat_model");
  const std::vector<gpt2::ChatMessage> messages = {{"user", "Hi"}};
  const json jm = {{{"role", "user"}, {"content", "Hi"}}};
  const json r = s.post_json("/v1/chat/completions", {{"model", "x"},
                                                      {"messages", jm},
                                                      {"max_tokens", 20},
                                                      {"temperature", 0},
                                                      {"logprobs", true},
                                                      {"top_logprobs", 2}});
  CHECK(r.at("object") == "chat.completion");
  CHECK(r.at("id").get<std::string>().starts_with("chatcmpl-"));
  const json& c = r["choices"][0];
  CHECK(c.at("message").at("role") == "assistant");
  const std::string content = c["message"]["content"];
  const std::vector<int> prompt = s.model.chat_prompt(messages);
  CHECK(s.model.encode("### Instruction:\nHi\n\n### Response:\n") == prompt);  // one token per byte here
  CHECK(r.at("usage").at("prompt_tokens") == static_cast<int>(prompt.size()));
  const json& lp = c.at("logprobs").at("content");
  REQUIRE(!lp.empty());
  CHECK(lp[0].at("bytes").is_array());
  CHECK(lp[0].at("top_logprobs").size() == 2);

  // The same as a completion of the template's prompt with the template's stop strings.
  const json same = s.post_json(
      "/v1/completions",
      {{"prompt", prompt}, {"max_tokens", 20}, {"temperature", 0}, {"stop", gpt2::chat_stop_strings()}});
  CHECK(same["choices"][0]["text"] == content);
  CHECK(same["choices"][0]["finish_reason"] == c["finish_reason"]);

  // Streamed: the role first, then the content, then an empty delta with the finish reason.
  const auto events = sse_payloads(
      s.post("/v1/chat/completions",
             json{{"messages", jm}, {"max_tokens", 20}, {"temperature", 0}, {"stream", true}}.dump())
          .second);
  REQUIRE(events.size() >= 3);
  CHECK(events.back() == "[DONE]");
  const json first = json::parse(events[0]);
  CHECK(first.at("object") == "chat.completion.chunk");
  CHECK(first["choices"][0]["delta"]["role"] == "assistant");
  std::string streamed;
  for (size_t i = 1; i + 1 < events.size(); ++i) {
    const json e = json::parse(events[i]);
    if (e["choices"][0]["delta"].contains("content"))
      streamed += e["choices"][0]["delta"]["content"].get<std::string>();
  }
  CHECK(streamed == content);
  CHECK(json::parse(events[events.size() - 2])["choices"][0]["finish_reason"] == c["finish_reason"]);

  // A conversation the template cannot write: one error naming the message.
  const auto [status, body] = s.post(
      "/v1/chat/completions",
      json{{"messages", {{{"role", "user"}, {"content", "Hi"}}, {{"role", "assistant"}, {"content", "Yes"}}}}}
          .dump());
  CHECK(status == 400);
  const json e = json::parse(body);
  CHECK(e["error"]["param"] == "messages[1].role");
  CHECK(e["error"]["message"] ==
        "invalid 'messages[1]': the last message must be the user's: the model answers it");
}

// Tolerance: attention and the lens come from float32 activations of a 2-layer, 32-channel model
// (about 1e-7 relative each), the reference from float64; the HTTP answers are rounded to 1e-4.
TEST_CASE("serve: attention weights and the logit lens equal the PyTorch reference", "[serve][parity]") {
  const auto ref = gpt2::SafetensorsFile::open(gpt2::fixture_dir() + "/12_serve.safetensors");
  const std::vector<int> ids = ints(ref, "prompt_ids");
  const gpt2::Tensor att = ref.get("attention");    // (L, NH, T, T)
  const gpt2::Tensor lens = ref.get("lens_probs");  // (L + 1, T, V)
  const int L = 2, NH = 4, T = static_cast<int>(ids.size()), V = 257;
  REQUIRE(T == 19);
  auto att_ref = [&](int l, int h, int i, int j) { return att.data()[((l * NH + h) * T + i) * T + j]; };
  auto lens_ref = [&](int row, int t, int id) {
    return lens.data()[(static_cast<size_t>(row) * T + t) * V + id];
  };

  TestServer s;
  REQUIRE(s.model.encode(kPrompt) == ids);
  const gpt2::AttentionMaps maps = s.model.attention(ids);
  double worst = 0;
  for (int l = 0; l < L; ++l)
    for (int h = 0; h < NH; ++h)
      for (int i = 0; i < T; ++i)
        for (int j = 0; j < T; ++j)
          worst = std::max<double>(worst, std::fabs(maps.at(l, h, i, j) - att_ref(l, h, i, j)));
  CHECK(worst < 1e-5);

  const json a = s.post_json("/api/attention", {{"text", kPrompt}});
  CHECK(a.at("token_ids").get<std::vector<int>>() == ids);
  REQUIRE(a.at("attention").size() == L);
  REQUIRE(a["attention"][0].size() == NH);
  worst = 0;
  for (int l = 0; l < L; ++l)
    for (int h = 0; h < NH; ++h)
      for (int i = 0; i < T; ++i) {
        REQUIRE(a["attention"][l][h][i].size() == static_cast<size_t>(i + 1));  // the causal row
        for (int j = 0; j <= i; ++j)
          worst = std::max(worst, std::fabs(a["attention"][l][h][i][j].get<double>() - att_ref(l, h, i, j)));
      }
  CHECK(worst <= 0.5e-4 + 1e-6);

  const int top = 3;
  const json lj = s.post_json("/api/logit_lens", {{"text", kPrompt}, {"top", top}});
  REQUIRE(lj.at("rows").size() == L + 1);
  CHECK(lj["rows"][0] == "embedding");
  CHECK(lj["rows"][L] == "block 1");
  for (int row = 0; row <= L; ++row) {
    for (int t = 0; t < T; ++t) {
      // The reported tokens are the `top` most probable of the reference, with its probabilities.
      std::vector<double> sorted;
      for (int id = 0; id < V; ++id) sorted.push_back(lens_ref(row, t, id));
      std::sort(sorted.rbegin(), sorted.rend());
      const json& cell = lj["top"][row][t];
      REQUIRE(cell.size() == top);
      for (int k = 0; k < top; ++k) {
        const int id = cell[k]["id"];
        CHECK(std::fabs(cell[k]["prob"].get<double>() - lens_ref(row, t, id)) <= 0.5e-4 + 1e-6);
        CHECK(lens_ref(row, t, id) >= sorted[top - 1] - 1e-6);
      }
      if (t + 1 < T)
        CHECK(std::fabs(lj["next_prob"][row][t].get<double>() - lens_ref(row, t, ids[t + 1])) <=
              0.5e-4 + 1e-6);
    }
  }
}

TEST_CASE("serve: tokenize and the merges that built a token (GPT-2's tokenizer)", "[serve]") {
  // A tiny random model with GPT-2's 50,257-token vocabulary and tokenizer.
  const fs::path dir = fs::temp_directory_path() / "gpt2_test_12_serve_gpt2_tok";
  fs::remove_all(dir);
  {
    gpt2::CpuBackend cpu;
    gpt2::GPT2 m(gpt2::GPT2Config::make(1, 2, 8, 16, 50257), cpu);
    m.init_random(3);
    m.save(dir, gpt2::data_dir() + "/gpt2");
  }
  TestServer s(dir.string());
  const json t = s.post_json("/api/tokenize", {{"text", "Hello world"}});
  REQUIRE(t.at("count") == 2);
  CHECK(t["tokens"][0]["id"] == 15496);
  CHECK(t["tokens"][0]["text"] == "Hello");
  CHECK(t["tokens"][1]["id"] == 995);
  CHECK(t["tokens"][1]["bytes"] == json({32, 119, 111, 114, 108, 100}));
  CHECK(t["tokens"][1]["rank"].is_number_integer());

  // Every node of the tree is the merge of its two children; the leaves are single bytes.
  const json tree = s.post_json("/api/merges", {{"id", 15496}});
  int leaves = 0;
  std::function<std::string(const json&)> walk = [&](const json& node) -> std::string {
    if (!node.contains("left")) {
      CHECK(node.at("bytes").size() == 1);
      CHECK(node.at("rank").is_null());
      ++leaves;
      return node["text"];
    }
    const std::string joined = walk(node["left"]) + walk(node["right"]);
    CHECK(joined == node["text"].get<std::string>());
    // A merge joins tokens that exist before it: its parts have lower ranks (or are bytes).
    for (const char* part : {"left", "right"})
      if (!node[part]["rank"].is_null()) CHECK(node["rank"].get<int>() > node[part]["rank"].get<int>());
    return joined;
  };
  CHECK(walk(tree) == "Hello");
  CHECK(leaves == 5);
  // A multi-byte character split into byte tokens, and the tokenizer's own special token.
  const json e = s.post_json("/api/tokenize", {{"text", "\xF0\x9F\x98\x80<|endoftext|>"}});
  CHECK(e["count"].get<int>() > 1);
  fs::remove_all(dir);
}

TEST_CASE("serve: every bad request gets its 4xx and a named field; the server goes on", "[serve]") {
  gpt2::ServeLimits limits;
  limits.max_body_bytes = 4096;
  limits.max_tokens = 64;
  TestServer s(kTinyModel, limits);
  struct Bad {
    std::string path, body;
    int status;
    std::string param;  // "" for none
    std::string type = "application/json";
  };
  const std::vector<Bad> cases = {
      // Not JSON, not UTF-8, not an object.
      {"/v1/completions", "{\"prompt\": \"a\",", 400, ""},
      {"/v1/completions", "", 400, ""},
      {"/v1/completions", "[1, 2]", 400, ""},
      {"/v1/completions", "null", 400, ""},
      {"/v1/completions", "{\"prompt\": \"a\" \"b\"}", 400, ""},
      {"/v1/completions", "{\"prompt\": \"caf\xC3\x28\"}", 400, "prompt"},
      {"/v1/completions", "{\"prompt\": \"\\ud800\"}", 400, "prompt"},
      {"/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"\xFF\"}]}", 400,
       "messages[0].content"},
      // Wrong types.
      {"/v1/completions", R"({"prompt": "a", "max_tokens": "5"})", 400, "max_tokens"},
      {"/v1/completions", R"({"prompt": "a", "max_tokens": 5.5})", 400, "max_tokens"},
      {"/v1/completions", R"({"prompt": "a", "temperature": "hot"})", 400, "temperature"},
      {"/v1/completions", R"({"prompt": "a", "stream": "yes"})", 400, "stream"},
      {"/v1/completions", R"({"prompt": "a", "ignore_eos": 1})", 400, "ignore_eos"},
      {"/v1/completions", R"({"prompt": "a", "stop": 5})", 400, "stop"},
      {"/v1/completions", R"({"prompt": "a", "stop": ["x", 5]})", 400, "stop[1]"},
      {"/v1/completions", R"({"prompt": {"text": "a"}})", 400, "prompt"},
      {"/v1/completions", R"({"prompt": [1, 2.5]})", 400, "prompt[1]"},
      {"/v1/completions", R"({"prompt": "a", "seed": "7"})", 400, "seed"},
      {"/v1/chat/completions", R"({"messages": {"role": "user"}})", 400, "messages"},
      {"/v1/chat/completions", R"({"messages": ["hi"]})", 400, "messages[0]"},
      {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": 5}]})", 400,
       "messages[0].content"},
      // Values out of range, or at a value we do not implement.
      {"/v1/completions", R"({"prompt": "a", "temperature": 2.5})", 400, "temperature"},
      {"/v1/completions", R"({"prompt": "a", "temperature": -1})", 400, "temperature"},
      {"/v1/completions", R"({"prompt": "a", "top_p": 0})", 400, "top_p"},
      {"/v1/completions", R"({"prompt": "a", "top_p": 1.5})", 400, "top_p"},
      {"/v1/completions", R"({"prompt": "a", "top_k": -1})", 400, "top_k"},
      {"/v1/completions", R"({"prompt": "a", "max_tokens": -1})", 400, "max_tokens"},
      {"/v1/completions", R"({"prompt": "a", "max_tokens": 65})", 400, "max_tokens"},
      {"/v1/completions", R"({"prompt": "a", "max_tokens": 99999999999999999999})", 400, "max_tokens"},
      {"/v1/completions", R"({"prompt": "a", "logprobs": 6})", 400, "logprobs"},
      {"/v1/completions", R"({"prompt": "a", "n": 2})", 400, "n"},
      {"/v1/completions", R"({"prompt": "a", "echo": true})", 400, "echo"},
      {"/v1/completions", R"({"prompt": "a", "stop": ""})", 400, "stop"},
      {"/v1/completions", R"({"prompt": "a", "stop": ["a", "b", "c", "d", "e"]})", 400, "stop"},
      {"/v1/completions", R"({"prompt": "a", "stream_options": {"include_usage": true}})", 400,
       "stream_options"},
      {"/v1/completions", R"({"prompt": [-1]})", 400, "prompt[0]"},
      {"/v1/completions", R"({"prompt": [257]})", 400, "prompt[0]"},
      {"/v1/completions", R"({"max_tokens": 5})", 400, "prompt"},
      {"/v1/completions", R"({"prompt": "a", "frobnicate": 1})", 400, "frobnicate"},
      {"/v1/chat/completions", R"({"messages": []})", 400, "messages"},
      {"/v1/chat/completions", R"({"messages": [{"role": "robot", "content": "hi"}]})", 400,
       "messages[0].role"},
      {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "hi", "x": 1}]})", 400,
       "messages[0].x"},
      {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "a"}], "top_logprobs": 2})", 400,
       "top_logprobs"},
      // The prompt is longer than the model's 32-token context (one token per byte here).
      {"/v1/completions", json{{"prompt", std::string(33, 'a')}}.dump(), 400, "prompt"},
      {"/v1/chat/completions",
       json{{"messages", {{{"role", "user"}, {"content", std::string(40, 'a')}}}}}.dump(), 400, "messages"},
      {"/api/attention", R"({"text": ""})", 400, "text"},
      {"/api/attention", json{{"text", std::string(33, 'a')}}.dump(), 400, "text"},
      {"/api/logit_lens", R"({"text": "ab", "top": 0})", 400, "top"},
      {"/api/merges", R"({})", 400, "id"},
      {"/api/merges", R"({"id": 257})", 400, "id"},
      {"/api/tokenize", R"({"text": 5})", 400, "text"},
      // Too large, not JSON, unknown paths, wrong methods.
      {"/v1/completions", json{{"prompt", std::string(5000, 'a')}}.dump(), 413, ""},
      {"/v1/completions", R"({"prompt": "a"})", 415, "", "text/plain"},
      {"/v1/completions", "prompt=a", 415, "", "application/x-www-form-urlencoded"},
      {"/v2/completions", R"({"prompt": "a"})", 404, ""},
      {"/../../etc/passwd", R"({})", 404, ""},
  };
  for (const Bad& b : cases) {
    INFO(b.path << " " << b.body.substr(0, 120));
    auto [status, body] = s.post(b.path, b.body, b.type);
    INFO(body);
    CHECK(status == b.status);
    const json e = json::parse(body);
    CHECK(!e.at("error").at("message").get<std::string>().empty());
    CHECK(e["error"].at("type") == "invalid_request_error");
    CHECK(e["error"].at("code").is_null());
    if (b.param.empty())
      CHECK(e["error"].at("param").is_null());
    else
      CHECK(e["error"].at("param") == b.param);
    REQUIRE(s.alive());
  }
  // GET on a POST endpoint, a path outside the page, a Host that is not this machine.
  CHECK(s.get("/v1/completions").first == 405);
  CHECK(s.get("/%2e%2e/%2e%2e/etc/passwd").first == 404);
  CHECK(s.get("/index.html/../../../etc/passwd").first == 404);
  auto evil = s.client->Get("/v1/models", {{"Host", "evil.example:8080"}});
  REQUIRE(evil);
  CHECK(evil->status == 403);
  // Garbage bytes on a raw connection: httplib answers 400 and the server goes on.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(s.server.port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  const std::string garbage = "\x16\x03\x01 NOT HTTP AT ALL\r\n\r\n";
  REQUIRE(::send(fd, garbage.data(), garbage.size(), 0) == static_cast<ssize_t>(garbage.size()));
  char buf[256];
  const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  ::close(fd);
  CHECK((n <= 0 || std::string(buf, n).find("400") != std::string::npos));
  CHECK(s.alive());
  CHECK(
      s.post_json("/v1/completions", {{"prompt", "a"}, {"max_tokens", 2}})["choices"][0]["text"].is_string());
}

TEST_CASE("serve: requests beyond one wait their turn; a full queue answers 503", "[serve]") {
  gpt2::ServeLimits limits;
  limits.max_queue = 0;  // nothing may wait behind the running request
  limits.max_tokens = 1 << 20;
  TestServer s(kTinyModel, limits);
  // A long streamed generation, read by a second client until we tell it to hang up.
  std::atomic<bool> started{false}, hang_up{false};
  std::thread reader([&] {
    httplib::Client c("127.0.0.1", s.server.port());
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/completions";
    req.set_header("Content-Type", "application/json");
    req.body = json{{"prompt", "a"}, {"max_tokens", 1 << 20}, {"ignore_eos", true}, {"stream", true}}.dump();
    req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) {
      started = true;
      return !hang_up.load();  // false closes the connection
    };
    httplib::Response res;
    httplib::Error err;
    c.send(req, res, err);
  });
  while (!started) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto [status, body] = s.post("/v1/completions", R"({"prompt": "b", "max_tokens": 2})");
  CHECK(status == 503);
  CHECK(json::parse(body)["error"]["type"] == "server_error");
  CHECK(s.alive());  // GETs that need no model are answered meanwhile

  // The client hangs up: its generation stops (long before 2^20 tokens) and the next request runs.
  hang_up = true;
  reader.join();
  const auto t0 = std::chrono::steady_clock::now();
  while (s.server.stats().jobs_cancelled == 0 &&
         std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10))
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(s.server.stats().jobs_cancelled == 1);
  const long long tokens = s.server.stats().tokens_generated;
  CHECK(tokens < (1 << 20));
  CHECK(s.post_json("/v1/completions", {{"prompt", "b"}, {"max_tokens", 2}})["usage"]["completion_tokens"] ==
        2);
  CHECK(s.server.stats().tokens_generated == tokens + 2);
}

TEST_CASE("serve: concurrent clients get the answers they would get alone", "[serve]") {
  TestServer s;
  const json body = {{"prompt", kPrompt}, {"max_tokens", 30}, {"temperature", 0.8}, {"seed", 11}};
  const json alone = s.post_json("/v1/completions", body)["choices"][0]["text"];
  std::vector<std::thread> clients;
  std::atomic<int> same{0};
  for (int i = 0; i < 6; ++i) {
    clients.emplace_back([&, i] {
      httplib::Client c("127.0.0.1", s.server.port());
      json b = body;
      b["stream"] = i % 2 == 0;
      auto res = c.Post("/v1/completions", b.dump(), "application/json");
      if (!res || res->status != 200) return;
      std::string text;
      if (b["stream"]) {
        for (const std::string& e : sse_payloads(res->body))
          if (e != "[DONE]") text += json::parse(e)["choices"][0]["text"].get<std::string>();
      } else {
        text = json::parse(res->body)["choices"][0]["text"];
      }
      if (text == alone.get<std::string>()) ++same;
    });
  }
  for (auto& t : clients) t.join();
  CHECK(same == 6);
}
