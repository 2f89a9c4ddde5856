/// @file server.h
/// @brief `gpt2 serve`'s HTTP server: the page, the OpenAI-compatible API and the page's own
/// endpoints, on cpp-httplib (Debian's libcpp-httplib-dev).
///
/// | method and path | what |
/// |---|---|
/// | `GET /` (and `/app.js`, `/style.css`) | the page, embedded in the binary (web/) |
/// | `GET /v1/models` | OpenAI's list with our one model |
/// | `POST /v1/completions` | OpenAI's legacy completions, `stream: true` as server-sent events |
/// | `POST /v1/chat/completions` | OpenAI's chat completions, through chat_template.h |
/// | `GET /api/info` | the model's shape, the chat template and the limits |
/// | `POST /api/tokenize` | `{"text"}` -> the tokens, their ids and bytes |
/// | `POST /api/merges` | `{"id"}` -> the tree of merges that built a token |
/// | `POST /api/attention` | `{"text"}` -> every layer's and head's attention weights |
/// | `POST /api/logit_lens` | `{"text", "top"}` -> the lens's top tokens after each block |
///
/// How a request flows: an HTTP thread (httplib's pool) reads the body and checks it
/// (serve_api.h: a bad request is answered 400 here, before any model work), tokenizes the prompt
/// (the tokenizer is shared safely), and hands a Job to the JobQueue (serve_queue.h), whose one
/// worker runs the model (serve_model.h). The HTTP thread then writes what the job sends, as it
/// comes; when the client has gone, it cancels the job, which stops at its next token.
///
/// Safety: the server reads no file after start-up (the page is compiled in, so a path such as
/// `/../../etc/passwd` is just an unknown path, 404); it binds to 127.0.0.1 unless told otherwise;
/// when bound to a loopback address it answers only requests whose Host is a loopback name (a web
/// page elsewhere cannot reach it through DNS rebinding); and POST bodies must be
/// `application/json`, which a page of another origin cannot send without a CORS preflight that
/// this server does not grant.
#pragma once

#include <memory>
#include <ostream>
#include <string>

#include "chapters/12_gpt2/serve_api.h"

namespace gpt2 {

class ServeModel;

struct ServeOptions {
  std::string host = "127.0.0.1";  ///< --host
  int port = 8080;                 ///< --port (0: any free port, see Server::port())
  ServeLimits limits;              ///< the --max-* flags
  std::ostream* log = nullptr;     ///< one line per request, when set
};

class Server {
 public:
  /// `model` must outlive the server.
  Server(ServeModel& model, ServeOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Binds the listening socket; returns the port. Throws gpt2::Error when it cannot (the port
  /// is taken, the host is not an address of this machine).
  int bind();
  /// Serves until stop() (blocking). Call bind() first.
  void run();
  /// Stops: cancels the running and waiting jobs, closes the socket, and makes run() return.
  /// Safe to call from any thread, more than once.
  void stop();

  int port() const;
  /// `http://HOST:PORT/`.
  std::string url() const;

  /// Counters, for tests and the load test.
  struct Stats {
    long long jobs_completed = 0;    ///< model jobs run to their end (or stopped by a cancel)
    long long jobs_cancelled = 0;    ///< model jobs whose client went away
    long long tokens_generated = 0;  ///< tokens sampled, all requests together
  };
  Stats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gpt2
