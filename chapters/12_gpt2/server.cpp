// gpt2 serve's HTTP server: see server.h.
#include "chapters/12_gpt2/server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <ctime>
#include <mutex>
#include <random>

#include "chapters/12_gpt2/chat_template.h"
#include "chapters/12_gpt2/serve_model.h"
#include "chapters/12_gpt2/serve_queue.h"
#include "chapters/12_gpt2/web_assets.h"
#include "common/error.h"

namespace gpt2 {

using nlohmann::json;

namespace {

bool is_loopback_name(const std::string& host) {
  return host == "localhost" || host == "127.0.0.1" || host == "::1" || host.starts_with("127.");
}

// "localhost:8080" -> "localhost", "[::1]:8080" -> "::1".
std::string host_of(const std::string& header) {
  if (header.starts_with("[")) return header.substr(1, header.find(']') - 1);
  return header.substr(0, header.find(':'));
}

// Attention weights and probabilities rounded to 4 decimals: plenty for a picture, and a third
// of the JSON of full float precision.
double rounded(float x) {
  return std::round(static_cast<double>(x) * 1e4) / 1e4;
}

// httplib listens with a backlog of 5 pending connections (fixed when the library was built):
// more clients connecting at once would see their connection attempts dropped and retried a
// second later. listen() again on the bound socket raises the backlog.
class HttpServer : public httplib::Server {
 public:
  void set_backlog(int n) { ::listen(svr_sock_, n); }
};

}  // namespace

struct Server::Impl {
  Impl(ServeModel& model, ServeOptions options)
      : model(model),
        options(std::move(options)),
        queue(
            this->options.limits.max_queue,
            [](const std::string& message) {
              return sse_event(error_json(ApiError(500, "the model failed: " + message, "", "server_error")));
            }),
        created(std::time(nullptr)) {
    this->options.limits.vocab_size = model.vocab_size();
  }

  ServeModel& model;
  ServeOptions options;
  HttpServer http;
  JobQueue queue;  // declared after `http`: destroyed first, so no job outlives what it uses
  int64_t created;
  int port = -1;
  std::atomic<long long> tokens_generated{0}, next_id{1};
  std::mutex log_mutex;

  const ServeLimits& limits() const { return options.limits; }

  ResponseMeta meta(const char* prefix) {
    char id[40];
    std::snprintf(id, sizeof id, "%s-%08llx", prefix, static_cast<unsigned long long>(next_id++));
    return {id, static_cast<int64_t>(std::time(nullptr)), model.name()};
  }

  // ----- answering ----------------------------------------------------------------------------

  static void send_json(httplib::Response& res, const json& j, int status = 200) {
    res.status = status;
    res.set_content(dump_json(j), "application/json");
  }

  static void send_error(httplib::Response& res, const ApiError& e) {
    send_json(res, error_json(e), e.status);
  }

  // Runs a handler, turning every exception into an OpenAI-style error: the server answers and
  // goes on whatever a request contains.
  template <typename F>
  static void guarded(httplib::Response& res, F&& f) {
    try {
      f();
    } catch (const ApiError& e) {
      send_error(res, e);
    } catch (const Error& e) {
      send_error(res, ApiError(400, e.what()));
    } catch (const std::exception& e) {
      send_error(res, ApiError(500, cat("internal error: ", e.what()), "", "server_error"));
    }
  }

  // Hands `job` to the queue and writes what it sends as the response body, as it comes.
  void respond_with_job(httplib::Response& res, std::shared_ptr<Job> job, const char* content_type) {
    if (!queue.submit(job))
      throw ApiError(503,
                     cat("the server is busy: ", limits().max_queue,
                         " requests are already waiting (--max-queue); try again later"),
                     "", "server_error");
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        content_type,
        [job](size_t, httplib::DataSink& sink) {
          std::deque<std::string> pieces;
          bool done = false;
          while (true) {
            job->next(pieces, done, 100);
            for (const std::string& p : pieces) {
              if (!sink.write(p.data(), p.size())) {
                job->cancel();
                return false;
              }
            }
            if (done) {
              sink.done();
              return true;
            }
            // Nothing new for 100 ms, or a piece was just written: is the client still there?
            if (!sink.is_writable()) {
              job->cancel();
              return false;
            }
          }
        },
        [job](bool) { job->cancel(); });  // the response is gone: nobody reads the job any more
  }

  // ----- prompts -----------------------------------------------------------------------------

  // Checks a prompt's length against the context and --max-prompt-tokens.
  void check_prompt(std::vector<int>& ids, const std::string& field) const {
    if (ids.empty()) {
      if (model.eot_id() < 0)
        throw ApiError(400, "the prompt is empty and the tokenizer has no <|endoftext|> to start from",
                       field);
      ids.push_back(model.eot_id());  // as `gpt2 generate` does: unconditional text
    }
    const int context = model.context_length();
    const int cap = limits().max_prompt_tokens > 0 ? std::min(limits().max_prompt_tokens, context) : context;
    if (static_cast<int>(ids.size()) > cap)
      throw ApiError(400,
                     cat("the prompt is ", ids.size(), " tokens long, but at most ", cap, " are allowed (",
                         cap == context ? "the model's context" : "the server's --max-prompt-tokens", ")"),
                     field);
  }

  // The text of an inspection request as ids: 1 to --max-inspect-tokens of them.
  std::vector<int> inspect_ids(const InspectRequest& r) const {
    if (r.text.empty()) throw ApiError(400, "'text' is empty", "text");
    std::vector<int> ids = model.encode(r.text);
    const int cap = std::min(limits().max_inspect_tokens, model.context_length());
    if (static_cast<int>(ids.size()) > cap)
      throw ApiError(400,
                     cat("'text' is ", ids.size(), " tokens long; attention and the logit lens take at most ",
                         cap, " (--max-inspect-tokens, and the model's context)"),
                     "text");
    return ids;
  }

  uint64_t seed_of(const SamplingRequest& s) const {
    if (s.seed) return *s.seed;
    static std::random_device device;
    return (static_cast<uint64_t>(device()) << 32) ^ device();
  }

  TokenLogprob token_logprob(const SampledToken& t) const {
    TokenLogprob lp{t.id, model.token_bytes(t.id), t.logprob, {}};
    for (const TokenProb& a : t.top)
      lp.top.push_back({a.id, model.token_bytes(a.id), static_cast<float>(std::log(a.prob)), {}});
    return lp;
  }

  // ----- completions -------------------------------------------------------------------------

  // Generates for one request, on the worker thread, sending the response as it goes.
  // chat: OpenAI's chat shapes; else the legacy completions'. prompt_bytes: the prompt's length,
  // for text_offset.
  void generate(Job& job, bool chat, const std::vector<int>& prompt, size_t prompt_bytes, SamplingRequest s,
                std::vector<std::string> stop) {
    const ResponseMeta m = meta(chat ? "chatcmpl" : "cmpl");
    ServeSampling sampling;
    sampling.max_tokens = s.max_tokens;
    sampling.temperature = s.temperature;
    sampling.top_k = s.top_k;
    sampling.top_p = s.top_p;
    sampling.seed = seed_of(s);
    sampling.top_n = std::max(s.logprobs, 0);
    sampling.stop_at_eot = !s.ignore_eos;
    const bool want_logprobs = s.logprobs >= 0;
    const char* object = chat ? "chat.completion.chunk" : "text_completion";

    // One streamed chunk with the new text (and the token's logprobs when asked; `offset` is
    // where the token starts, counted in bytes from the start of the prompt).
    auto chunk = [&](const std::string& text, const std::vector<TokenLogprob>& lps, size_t offset,
                     const std::string& finish) {
      const json logprobs = !want_logprobs || lps.empty() ? json(nullptr)
                            : chat                        ? chat_logprobs_json(lps)
                                                          : completion_logprobs_json(lps, offset);
      if (chat) {
        const json delta = finish.empty() ? json{{"content", text}} : json::object();
        return sse_event(chat_chunk_json(m, delta, finish, logprobs));
      }
      return sse_event(completion_json(m, text, finish, logprobs, nullptr));
    };

    if (s.stream && chat)
      job.send(sse_event(chat_chunk_json(m, {{"role", "assistant"}, {"content", ""}}, "", nullptr)));
    StopTextStream text(std::move(stop));
    std::string all;  // the whole text (not streamed)
    std::vector<TokenLogprob> all_logprobs;
    size_t offset = prompt_bytes;
    int n = 0;
    const StopReason why = model.generate(prompt, sampling, [&](const SampledToken& t) {
      if (job.cancelled()) return false;
      ++n;
      ++tokens_generated;
      const std::string bytes = model.token_bytes(t.id);
      const std::string piece = text.push(bytes);
      std::vector<TokenLogprob> lps;
      if (want_logprobs) lps.push_back(token_logprob(t));
      if (s.stream) {
        if (!piece.empty() || want_logprobs) job.send(chunk(piece, lps, offset, ""));
      } else {
        all += piece;
        all_logprobs.insert(all_logprobs.end(), lps.begin(), lps.end());
      }
      offset += bytes.size();
      return !text.stopped();
    });
    if (job.cancelled()) return;
    const std::string rest = text.flush();
    const std::string finish = why == StopReason::length ? "length" : "stop";
    const Usage usage{static_cast<int>(prompt.size()), n};
    if (s.stream) {
      if (!rest.empty()) job.send(chunk(rest, {}, offset, ""));
      job.send(chunk("", {}, offset, finish));
      if (s.include_usage) job.send(sse_event(usage_chunk_json(m, object, usage)));
      job.send(std::string(kSseDone));
      return;
    }
    all += rest;
    const json logprobs = !want_logprobs ? json(nullptr)
                          : chat         ? chat_logprobs_json(all_logprobs)
                                         : completion_logprobs_json(all_logprobs, prompt_bytes);
    job.send(dump_json(chat ? chat_completion_json(m, all, finish, logprobs, usage)
                            : completion_json(m, all, finish, logprobs, &usage)));
  }

  void completions(const httplib::Request& req, httplib::Response& res) {
    CompletionRequest r = parse_completion_request(req.body, limits());
    std::vector<int> ids = r.prompt_is_tokens ? r.prompt_tokens : model.encode(r.prompt);
    check_prompt(ids, "prompt");
    const size_t prompt_bytes = r.prompt_is_tokens ? 0 : r.prompt.size();
    auto job = std::make_shared<Job>([this, ids, prompt_bytes, r](Job& job) {
      generate(job, false, ids, prompt_bytes, r.sampling, r.sampling.stop);
    });
    respond_with_job(res, job, r.sampling.stream ? "text/event-stream" : "application/json");
  }

  void chat_completions(const httplib::Request& req, httplib::Response& res) {
    ChatRequest r = parse_chat_request(req.body, limits());
    std::vector<int> ids = model.chat_prompt(r.messages);
    check_prompt(ids, "messages");
    std::vector<std::string> stop = r.sampling.stop;
    for (const std::string& s : chat_stop_strings()) stop.push_back(s);
    auto job = std::make_shared<Job>(
        [this, ids, r, stop](Job& job) { generate(job, true, ids, 0, r.sampling, stop); });
    respond_with_job(res, job, r.sampling.stream ? "text/event-stream" : "application/json");
  }

  // ----- the page's endpoints ----------------------------------------------------------------

  json token_json(int id) const {
    const std::string bytes = model.token_bytes(id);
    json b = json::array();
    for (unsigned char c : bytes) b.push_back(static_cast<int>(c));
    const ServeModel::MergeParts parts = model.merge_of(id);
    return {{"id", id},
            {"text", token_display(bytes)},
            {"bytes", b},
            {"rank", parts.rank < 0 ? json(nullptr) : json(parts.rank)}};
  }

  // The tree of merges that built a token: each node the token, its rank and its two parts.
  json merge_tree(int id) const {
    json node = token_json(id);
    const ServeModel::MergeParts parts = model.merge_of(id);
    if (parts.rank >= 0) {
      node["left"] = merge_tree(parts.left);
      node["right"] = merge_tree(parts.right);
    }
    return node;
  }

  void tokenize(const httplib::Request& req, httplib::Response& res) {
    const InspectRequest r = parse_inspect_request(req.body, limits());
    const std::vector<int> ids = model.encode(r.text);
    if (static_cast<int>(ids.size()) > limits().max_tokenize_tokens)
      throw ApiError(400,
                     cat("'text' is ", ids.size(), " tokens long; /api/tokenize returns at most ",
                         limits().max_tokenize_tokens),
                     "text");
    json tokens = json::array();
    for (int id : ids) tokens.push_back(token_json(id));
    send_json(res, {{"tokens", tokens}, {"count", ids.size()}, {"bytes", r.text.size()}});
  }

  void merges(const httplib::Request& req, httplib::Response& res) {
    const InspectRequest r = parse_inspect_request(req.body, limits());
    if (r.id < 0) throw ApiError(400, "you must provide a token 'id'", "id");
    send_json(res, merge_tree(r.id));
  }

  json tokens_json(const std::vector<int>& ids) const {
    json tokens = json::array();
    for (int id : ids) tokens.push_back(token_display(model.token_bytes(id)));
    return tokens;
  }

  void attention(const httplib::Request& req, httplib::Response& res) {
    const InspectRequest r = parse_inspect_request(req.body, limits());
    const std::vector<int> ids = inspect_ids(r);
    auto job = std::make_shared<Job>([this, ids](Job& job) {
      const AttentionMaps maps = model.attention(ids);
      // attention[l][h][i] = the weights of position i over positions 0..i (the causal row).
      json layers = json::array();
      for (int l = 0; l < maps.n_layer; ++l) {
        json heads = json::array();
        for (int h = 0; h < maps.n_head; ++h) {
          json rows = json::array();
          for (int i = 0; i < maps.T; ++i) {
            json row = json::array();
            for (int j = 0; j <= i; ++j) row.push_back(rounded(maps.at(l, h, i, j)));
            rows.push_back(std::move(row));
          }
          heads.push_back(std::move(rows));
        }
        layers.push_back(std::move(heads));
      }
      job.send(dump_json({{"tokens", tokens_json(ids)},
                          {"token_ids", ids},
                          {"n_layer", maps.n_layer},
                          {"n_head", maps.n_head},
                          {"attention", std::move(layers)}}));
    });
    respond_with_job(res, job, "application/json");
  }

  void logit_lens(const httplib::Request& req, httplib::Response& res) {
    const InspectRequest r = parse_inspect_request(req.body, limits());
    const std::vector<int> ids = inspect_ids(r);
    const int top = r.top;
    auto job = std::make_shared<Job>([this, ids, top](Job& job) {
      const LogitLens lens = model.logit_lens(ids, top);
      json rows = json::array(), names = json::array(), next = json::array();
      for (int row = 0; row < lens.n_rows; ++row) {
        names.push_back(row == 0 ? std::string("embedding") : cat("block ", row - 1));
        json cells = json::array();
        for (int t = 0; t < lens.T; ++t) {
          json cell = json::array();
          for (int k = 0; k < lens.top_n; ++k) {
            const TokenProb& p = lens.top[(static_cast<size_t>(row) * lens.T + t) * lens.top_n + k];
            cell.push_back(
                {{"id", p.id}, {"text", token_display(model.token_bytes(p.id))}, {"prob", rounded(p.prob)}});
          }
          cells.push_back(std::move(cell));
        }
        rows.push_back(std::move(cells));
        json np = json::array();
        for (int t = 0; t + 1 < lens.T; ++t)
          np.push_back(rounded(lens.next_prob[static_cast<size_t>(row) * (lens.T - 1) + t]));
        next.push_back(std::move(np));
      }
      job.send(dump_json({{"tokens", tokens_json(ids)},
                          {"token_ids", ids},
                          {"rows", names},
                          {"top", rows},
                          {"next_prob", next}}));
    });
    respond_with_job(res, job, "application/json");
  }

  json model_json() const {
    return {{"id", model.name()}, {"object", "model"}, {"created", created}, {"owned_by", "gpt2-cpp-course"}};
  }

  json info_json() const {
    const ServeLimits& l = limits();
    return {{"model", model.name()},
            {"n_layer", model.n_layer()},
            {"n_head", model.n_head()},
            {"n_embd", model.n_embd()},
            {"context_length", model.context_length()},
            {"vocab_size", model.vocab_size()},
            {"parameters", model.num_parameters()},
            {"backend", model.backend_name()},
            {"eot_id", model.eot_id()},
            {"chat_template", chat_template_description()},
            {"limits",
             {{"max_body_bytes", l.max_body_bytes},
              {"max_prompt_tokens", l.max_prompt_tokens > 0 ? l.max_prompt_tokens : model.context_length()},
              {"max_tokens", l.max_tokens},
              {"max_queue", l.max_queue},
              {"max_inspect_tokens", std::min(l.max_inspect_tokens, model.context_length())}}}};
  }

  // ----- routes ------------------------------------------------------------------------------

  void routes() {
    for (const WebAsset& a : web_assets()) {
      const std::string path = a.path == "/index.html" ? "/" : std::string(a.path);
      http.Get(path, [a](const httplib::Request&, httplib::Response& res) {
        res.set_content(a.body.data(), a.body.size(), std::string(a.content_type));
      });
    }
    auto post = [this](const char* path, void (Impl::*handler)(const httplib::Request&, httplib::Response&)) {
      http.Post(path, [this, handler](const httplib::Request& req, httplib::Response& res) {
        guarded(res, [&] { (this->*handler)(req, res); });
      });
    };
    post("/v1/completions", &Impl::completions);
    post("/v1/chat/completions", &Impl::chat_completions);
    post("/api/tokenize", &Impl::tokenize);
    post("/api/merges", &Impl::merges);
    post("/api/attention", &Impl::attention);
    post("/api/logit_lens", &Impl::logit_lens);
    http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
      send_json(res, {{"object", "list"}, {"data", {model_json()}}});
    });
    http.Get("/v1/models/(.+)", [this](const httplib::Request& req, httplib::Response& res) {
      if (req.matches[1] == model.name())
        send_json(res, model_json());
      else
        send_error(res, ApiError(404, cat("the model '", req.matches[1].str(), "' does not exist"), "model"));
    });
    http.Get("/api/info",
             [this](const httplib::Request&, httplib::Response& res) { send_json(res, info_json()); });

    // Before routing: the Host and Content-Type checks of server.h.
    http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (is_loopback_name(options.host) && req.has_header("Host") &&
          !is_loopback_name(host_of(req.get_header_value("Host")))) {
        send_error(res, ApiError(403, "this server answers only requests to localhost (its --host is " +
                                          options.host + ")"));
        return httplib::Server::HandlerResponse::Handled;
      }
      if (req.method == "POST" && !req.get_header_value("Content-Type").starts_with("application/json")) {
        send_error(res, ApiError(415,
                                 "send the body as JSON with the header 'Content-Type: application/json' "
                                 "(curl: -H 'Content-Type: application/json')"));
        return httplib::Server::HandlerResponse::Handled;
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });
    // Errors httplib finds itself (no route, a body over --max-body-bytes, a malformed request
    // line) get the same JSON shape as ours; ours already have a body.
    http.set_error_handler(
        httplib::Server::HandlerWithResponse([this](const httplib::Request& req, httplib::Response& res) {
          if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
          if (res.status == 404 && is_known_path(req.path)) res.status = 405;
          if (res.status == 404)
            send_error(
                res, ApiError(404, cat("unknown path '", req.path, "' (see GET /api/info and the README)")));
          else if (res.status == 405)
            send_error(res, ApiError(405, cat(req.method, " is not allowed on ", req.path)));
          else if (res.status == 413)
            send_error(res, ApiError(413, cat("the body is larger than the server's limit of ",
                                              limits().max_body_bytes, " bytes (--max-body-bytes)")));
          else
            send_error(res, ApiError(res.status, cat("bad request (HTTP status ", res.status, ")")));
          return httplib::Server::HandlerResponse::Handled;
        }));
    http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
      send_error(res, ApiError(500, "internal error", "", "server_error"));
    });
    http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      if (!options.log) return;
      std::lock_guard lock(log_mutex);
      *options.log << req.method << " " << req.path << " " << res.status << "\n" << std::flush;
    });
  }

  static bool is_known_path(const std::string& path) {
    for (const char* p : {"/v1/completions", "/v1/chat/completions", "/v1/models", "/api/tokenize",
                          "/api/merges", "/api/attention", "/api/logit_lens", "/api/info", "/"}) {
      if (path == p) return true;
    }
    return false;
  }
};

Server::Server(ServeModel& model, ServeOptions options)
    : impl_(std::make_unique<Impl>(model, std::move(options))) {
  Impl& s = *impl_;
  // One HTTP thread per request being answered: the running one, those waiting in the queue, and
  // a few for the page's quick requests. More connections than that wait to be read.
  const size_t threads = static_cast<size_t>(s.limits().max_queue) + 8;
  s.http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  s.http.set_payload_max_length(s.limits().max_body_bytes);
  // A stream is many small writes, one per token: without TCP_NODELAY, Nagle's algorithm holds
  // each until the previous one is acknowledged, and a client that delays its acknowledgements
  // (40 ms on Linux) would see at most about 25 tokens a second.
  s.http.set_tcp_nodelay(true);
  s.routes();
}

Server::~Server() {
  stop();
}

int Server::bind() {
  Impl& s = *impl_;
  if (s.options.port == 0) {
    s.port = s.http.bind_to_any_port(s.options.host);
  } else {
    s.port = s.http.bind_to_port(s.options.host, s.options.port) ? s.options.port : -1;
  }
  GPT2_CHECK(s.port > 0, "gpt2 serve: cannot listen on ", s.options.host, ":", s.options.port,
             " (is the port taken by another program, or the host not an address of this machine?)");
  s.http.set_backlog(128);
  return s.port;
}

void Server::run() {
  impl_->http.listen_after_bind();
}

void Server::stop() {
  impl_->queue.stop();
  impl_->http.stop();
}

int Server::port() const {
  return impl_->port;
}

std::string Server::url() const {
  const std::string& h = impl_->options.host;
  const std::string host = h.find(':') != std::string::npos ? "[" + h + "]" : h;
  return cat("http://", host, ":", impl_->port, "/");
}

Server::Stats Server::stats() const {
  return {impl_->queue.completed(), impl_->queue.cancelled(), impl_->tokens_generated.load()};
}

}  // namespace gpt2
