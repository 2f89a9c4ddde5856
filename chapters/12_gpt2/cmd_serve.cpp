// gpt2 serve: a page that shows the model at work, and an OpenAI-compatible API (server.h).
#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <thread>

#include "chapters/12_gpt2/adapter_option.h"
#include "chapters/12_gpt2/args.h"
#include "chapters/12_gpt2/commands.h"
#include "chapters/12_gpt2/model_dir.h"
#include "chapters/12_gpt2/serve_model.h"
#include "chapters/12_gpt2/server.h"
#include "common/error.h"

namespace gpt2 {

namespace {

// Set by SIGINT (Ctrl-C) and SIGTERM; the main thread sees it and stops the server. A signal
// handler may do little more than set a lock-free atomic flag.
std::atomic<bool> stop_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void request_stop(int) {
  stop_requested = true;
}

int cmd_serve(std::span<const std::string> args, CommandIO io) {
  const ServeLimits defaults;
  ArgParser p("gpt2 serve",
              "Serves a model on HTTP: a page that shows its tokens, its sampling, its attention and its\n"
              "logit lens (open the printed URL in a browser), and an OpenAI-compatible API\n"
              "(POST /v1/completions, POST /v1/chat/completions, GET /v1/models; see chapter 12's README).\n"
              "Requests run one at a time, in the order they came; Ctrl-C stops the server.");
  p.option("--model", "DIR", "model directory, or a downloaded model's name such as gpt2", "", true);
  p.option("--host", "ADDRESS",
           "address to listen on (0.0.0.0: every interface, reachable from other machines)", "127.0.0.1");
  p.option("--port", "N", "port to listen on (0: any free port)", "8080");
  p.option("--max-body-bytes", "N", "largest request body (larger: 413)",
           std::to_string(defaults.max_body_bytes));
  p.option("--max-prompt-tokens", "N", "longest prompt in tokens (0: the model's context)", "0");
  p.option("--max-tokens", "N", "largest max_tokens a request may ask (and the chat's default)",
           std::to_string(defaults.max_tokens));
  p.option("--max-queue", "N", "requests that may wait behind the running one (more: 503)",
           std::to_string(defaults.max_queue));
  p.option("--max-inspect-tokens", "N", "longest prompt for the attention and logit-lens views",
           std::to_string(defaults.max_inspect_tokens));
  p.flag("--quiet", "do not print a line per request");
  add_inference_options(p);  // --device, --plain-kernels, --weights, --q8-activations
  add_adapter_option(p);
  if (!p.parse(args, io.out)) return 0;

  ServeOptions options;
  options.host = p.get("--host");
  GPT2_CHECK(!options.host.empty(), "gpt2 serve: option '--host' is empty");
  options.port = static_cast<int>(p.get_int("--port", 0, 65535));
  options.limits.max_body_bytes = static_cast<size_t>(p.get_int("--max-body-bytes", 1, 1LL << 32));
  options.limits.max_prompt_tokens = static_cast<int>(p.get_int("--max-prompt-tokens", 0, 1 << 24));
  options.limits.max_tokens = static_cast<int>(p.get_int("--max-tokens", 1, 1 << 24));
  options.limits.max_queue = static_cast<int>(p.get_int("--max-queue", 0, 1024));
  options.limits.max_inspect_tokens = static_cast<int>(p.get_int("--max-inspect-tokens", 1, 1 << 16));
  if (!p.given("--quiet")) options.log = &io.err;

  ServeModel model(p.get("--model"), generation_options(p), p.given("--adapter") ? p.get("--adapter") : "");
  Server server(model, options);
  server.bind();
  io.out << "gpt2 serve: " << model.name() << " (" << model.n_layer() << " layers, " << model.n_embd()
         << " channels, context " << model.context_length() << ", " << model.num_parameters()
         << " parameters) on " << model.backend_name()
         << (model.adapter().empty() ? "" : ", with the LoRA adapter " + model.adapter()) << "\n"
         << "open " << server.url() << " in a browser; the API is at " << server.url()
         << "v1 (Ctrl-C to stop)\n";
  if (options.host != "127.0.0.1" && options.host != "localhost" && options.host != "::1")
    io.out << "warning: listening on " << options.host
           << ": anyone who can reach this machine can use the model; there is no password\n";
  io.out.flush();

  stop_requested = false;
  auto old_int = std::signal(SIGINT, request_stop);
  auto old_term = std::signal(SIGTERM, request_stop);
  std::atomic<bool> finished{false};
  std::thread http([&] {
    server.run();
    finished = true;
  });
  while (!stop_requested && !finished) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  server.stop();
  http.join();
  std::signal(SIGINT, old_int);
  std::signal(SIGTERM, old_term);
  io.out << "gpt2 serve: stopped\n";
  return 0;
}

}  // namespace

void register_serve_commands(std::vector<Command>& commands) {
  commands.push_back({{"serve"}, "a page and an OpenAI-compatible API for a model, on HTTP", cmd_serve});
}

}  // namespace gpt2
