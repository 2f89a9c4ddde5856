// The generation loop: see generate.h.
#include "chapters/07_sampling/generate.h"

#include "common/error.h"
#include "common/timer.h"

namespace gpt2 {

void GenerateOptions::validate() const {
  GPT2_CHECK(max_new_tokens >= 0, "max_new_tokens must be >= 0, got ", max_new_tokens);
  sampling().validate();
}

Generation generate(CachedGPT2& model, std::span<const int> prompt, const GenerateOptions& options,
                    const TokenCallback& on_token) {
  options.validate();
  const int capacity = model.capacity();
  GPT2_CHECK(!prompt.empty(),
             "generate: the prompt is empty (GPT-2 needs at least one token to condition on; ",
             "start from <|endoftext|>, id ", kEndOfTextId, ", for unconditional text)");
  GPT2_CHECK(static_cast<int>(prompt.size()) <= capacity, "generate: the prompt has ", prompt.size(),
             " tokens but the model's context is ", capacity, " tokens; shorten the prompt");

  Sampler sampler(options.sampling(), options.seed);
  Generation result;
  std::vector<int> text(prompt.begin(), prompt.end());  // prompt + generated: the sliding window's source

  model.reset();
  Timer timer;
  std::span<const float> logits = model.forward(prompt);
  result.prefill_seconds = timer.seconds();

  timer.reset();
  for (int step = 0; step < options.max_new_tokens; ++step) {
    const int next = sampler.sample(logits);
    if (options.stop_at_eot && next == options.eot_token) {
      result.stopped_at_eot = true;
      break;
    }
    result.tokens.push_back(next);
    text.push_back(next);
    if (on_token) on_token(next);
    if (step + 1 == options.max_new_tokens) break;  // no need for the logits after the last token
    if (model.size() == capacity) {
      // The cache is full: slide the window. Keep the last capacity / 2 tokens (including `next`)
      // and prefill them again from position 0.
      const int keep = capacity / 2 > 0 ? capacity / 2 : 1;
      model.reset();
      logits = model.forward(std::span<const int>(text).last(keep));
      ++result.window_shifts;
    } else {
      const int one[1] = {next};
      logits = model.forward(one);
      ++result.decode_steps;
    }
  }
  result.decode_seconds = timer.seconds();
  return result;
}

Generation generate(const GPT2& model, std::span<const int> prompt, const GenerateOptions& options,
                    const TokenCallback& on_token) {
  CachedGPT2 cached(model);
  return generate(cached, prompt, options, on_token);
}

}  // namespace gpt2
