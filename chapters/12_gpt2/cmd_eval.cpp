// gpt2 eval: how well a model predicts a text (loss, perplexity, bits per byte).
#include <cstdio>
#include <iostream>
#include <optional>

#include <nlohmann/json.hpp>

#include "chapters/12_gpt2/args.h"
#include "chapters/12_gpt2/commands.h"
#include "chapters/12_gpt2/model_dir.h"
#include "chapters/12_gpt2/text_eval.h"
#include "common/error.h"
#include "common/file_io.h"
#include "common/progress.h"
#include "common/timer.h"

namespace gpt2 {

namespace {

int cmd_eval(std::span<const std::string> args, CommandIO io) {
  ArgParser p("gpt2 eval",
              "Measures how well a model predicts a text file. The text is encoded as ordinary text with\n"
              "the model's tokenizer (nothing prepended); every token after the first is predicted from\n"
              "the tokens before it. Prints the mean cross-entropy in nats per token, the perplexity\n"
              "exp(loss), and bits per byte = total nats / (ln 2 * bytes of the predicted tokens, i.e. the\n"
              "text's bytes minus those of its first token). A text longer than the context is scored\n"
              "with a sliding window: each window predicts the next --stride tokens from the --context\n"
              "tokens before them (see chapters/12_gpt2/text_eval.h).");
  p.option("--model", "DIR", "model directory, or a downloaded model's name such as gpt2", "", true);
  p.option("--input", "FILE", "the text to score", "", true);
  p.option("--context", "N", "positions per window (default: the model's context)");
  p.option("--stride", "S", "new tokens scored per window, in [1, context] (default: context / 2)");
  p.option("--batch-size", "B",
           "windows per forward pass (default: as many as fit in about 256 MB of logits)");
  add_inference_options(p);
  p.flag("--json", "print {\"tokens\": N, \"loss\": L, \"perplexity\": P, \"bits_per_byte\": B, ...}");
  if (!p.parse(args, io.out)) return 0;
  const std::string text = read_file(p.get("--input"));
  LoadedModel m = load_model(p.get("--model"), inference_options(p));
  const int n_positions = m.model->config().n_positions;
  const int context =
      p.given("--context") ? static_cast<int>(p.get_int("--context", 1, n_positions)) : n_positions;
  const int stride =
      p.given("--stride") ? static_cast<int>(p.get_int("--stride", 1, context)) : std::max(1, context / 2);
  const int batch = p.given("--batch-size") ? static_cast<int>(p.get_int("--batch-size", 1, 4096)) : 0;

  Timer timer;
  const std::vector<int> ids = encode_parallel(*m.tokenizer, text);
  GPT2_CHECK(ids.size() >= 2, "gpt2 eval: '", p.get("--input"), "' encodes to ", ids.size(),
             " token(s); at least 2 are needed");
  std::optional<ProgressBar> bar;  // made on the first callback, when the number of windows is known
  const TextEval r =
      evaluate_text(*m.model, *m.tokenizer, ids, context, stride, batch, [&](int64_t done, int64_t total) {
        if (!bar) bar.emplace("eval", total, "window");
        bar->update(done);
      });
  if (bar) bar->finish();
  if (p.given("--json")) {
    nlohmann::json j = {{"tokens", r.tokens},
                        {"loss", r.loss},
                        {"perplexity", r.perplexity},
                        {"bits_per_byte", r.bits_per_byte},
                        {"predicted_tokens", r.predicted},
                        {"bytes", r.bytes},
                        {"chars", r.chars},
                        {"nats_per_char", r.nats_per_char},
                        {"total_nats", r.total_nats},
                        {"context", r.max_T},
                        {"stride", r.stride},
                        {"weights", weight_format_name(m.weights)}};
    io.out << j.dump() << "\n";
  } else {
    char line[512];
    std::snprintf(line, sizeof line,
                  "%s: %lld tokens (%lld predicted: %lld bytes, %lld characters), context %d, stride %d\n"
                  "loss %.4f nats/token, perplexity %.3f, %.4f bits/byte, %.4f nats/char%s\n",
                  p.get("--input").c_str(), static_cast<long long>(r.tokens),
                  static_cast<long long>(r.predicted), static_cast<long long>(r.bytes),
                  static_cast<long long>(r.chars), r.max_T, r.stride, r.loss, r.perplexity, r.bits_per_byte,
                  r.nats_per_char, weights_note(m.weights).c_str());
    io.out << line;
  }
  io.err << "evaluated in " << format_duration(timer.seconds()) << "\n";
  return 0;
}

}  // namespace

void register_eval_commands(std::vector<Command>& commands) {
  commands.push_back({{"eval"}, "loss, perplexity and bits per byte of a text", cmd_eval});
}

}  // namespace gpt2
