// The generation loop: see generate.h.
#include "chapters/07_sampling/generate.h"

#include "common/error.h"
#include "common/timer.h"

namespace gpt2 {

void GenerateOptions::validate() const {
  GPT2_CHECK(max_new_tokens >= 0, "max_new_tokens must be >= 0, got ", max_new_tokens);
  sampling().validate();
}

Generation generate(GPT2& model, KVCache& cache, std::span<const int> prompt, const GenerateOptions& options,
                    const TokenCallback& on_token) {
  options.validate();
  GPT2_CHECK(cache.batch() == 1, "generate: the KV cache must hold one sequence, it holds ", cache.batch());
  const int capacity = cache.capacity();
  const int cached = options.continue_cache ? cache.size() : 0;  // positions kept from before
  GPT2_CHECK(!prompt.empty(),
             "generate: the prompt is empty (GPT-2 needs at least one token to condition on; ",
             "start from <|endoftext|>, id ", kEndOfTextId, ", for unconditional text)");
  GPT2_CHECK(cached + static_cast<int64_t>(prompt.size()) <= capacity, "generate: the prompt has ",
             prompt.size(), " tokens", cached ? cat(" after ", cached, " cached ones") : std::string(),
             " but the model's context is ", capacity, " tokens; shorten the prompt");

  Sampler sampler(options.sampling(), options.seed);
  Generation result;
  std::vector<int> text(prompt.begin(), prompt.end());  // prompt + generated: the sliding window's source

  if (!options.continue_cache) cache.clear();
  Timer timer;
  std::span<const float> logits = model.forward(cache, prompt.data(), 1, static_cast<int>(prompt.size()));
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
    if (on_token && !on_token(next, logits)) {
      result.stopped_by_callback = true;
      break;
    }
    if (step + 1 == options.max_new_tokens) break;  // no need for the logits after the last token
    if (cache.size() == capacity) {
      if (options.continue_cache) {  // the caller's context is full: its policy, not a window
        result.context_full = true;
        break;
      }
      // The cache is full: slide the window. Keep the last capacity / 2 tokens (including `next`)
      // and prefill them again from position 0.
      const int keep = capacity / 2 > 0 ? capacity / 2 : 1;
      cache.clear();
      logits = model.forward(cache, text.data() + text.size() - keep, 1, keep);
      ++result.window_shifts;
    } else {
      logits = model.forward(cache, &next, 1, 1);
      ++result.decode_steps;
    }
  }
  result.decode_seconds = timer.seconds();
  return result;
}

Generation generate(GPT2& model, std::span<const int> prompt, const GenerateOptions& options,
                    const TokenCallback& on_token) {
  KVCache cache(model.config(), model.backend());
  return generate(model, cache, prompt, options, on_token);
}

}  // namespace gpt2
