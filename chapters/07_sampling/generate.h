/// @file generate.h
/// @brief The generation loop: prefill the prompt, then sample one token at a time with the KV
/// cache, stopping at <|endoftext|> or after N tokens.
///
///   logits = model.forward(cache, prompt)          prefill: the whole prompt at once
///   repeat max_new_tokens times:
///     next = sampler.sample(logits)                greedy / temperature / top-k / top-p
///     if next is <|endoftext|> and stop_at_eot: stop (it is not reported)
///     on_token(next, logits)                       e.g. print it through a Utf8Stream; false: stop
///     logits = model.forward(cache, {next})        one position, reading the KV cache
///
/// **Continuing a cache.** A chat keeps its conversation in the cache from turn to turn: with
/// `continue_cache`, the positions already in the cache stay, `prompt` holds only the new tokens
/// (the new turn), and only they are prefilled, at positions cache.size() on. The callback sees
/// the logits each token was drawn from (for its probability and the alternatives, as
/// `gpt2 serve` reports them) and can stop the generation (a stop string, a client gone).
///
/// The model is chapter 05's GPT2 on any backend (the plain loops, chapter 08's fast kernels,
/// chapter 09's GPU with the cache in its memory): the forward pass is the model's own, and only
/// the logits of the last position come back to the host for the sampler.
///
/// **Context limit.** A prompt longer than the model's context (n_positions) is an error: the
/// model was never trained on positions past maxT, and cutting the user's prompt silently would
/// hide that. Generating *past* the context is allowed, with a sliding window: when the cache is
/// full, we keep the last maxT / 2 tokens of the text, empty the cache and prefill them again at
/// positions 0 .. maxT/2 - 1, then go on. The model then sees at least maxT / 2 tokens of context
/// at every step, and the re-prefill costs one prompt-sized forward every maxT / 2 tokens. (nanoGPT
/// instead crops to the last maxT tokens at every step, which with a cache would mean a full
/// re-prefill per token, because every position embedding changes when the window moves.)
///
/// PyTorch / transformers equivalent: `model.generate(input_ids, max_new_tokens=N, do_sample=...,
/// temperature=..., top_k=..., top_p=..., eos_token_id=50256)` with `use_cache=True`.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "chapters/01_tokenizer/tokenizer.h"  // kEndOfTextId
#include "chapters/05_gpt2_model/gpt2.h"
#include "chapters/05_gpt2_model/kv_cache.h"
#include "chapters/07_sampling/sampler.h"

namespace gpt2 {

/// What generate() does; the fields mirror `gpt2 generate`'s flags.
struct GenerateOptions {
  int max_new_tokens = 100;      ///< stop after this many new tokens (>= 0)
  float temperature = 1.0f;      ///< see SamplingOptions
  int top_k = 0;                 ///< see SamplingOptions
  float top_p = 1.0f;            ///< see SamplingOptions
  uint64_t seed = 1337;          ///< the sampler's seed: same seed, same text
  bool greedy = false;           ///< take the argmax every step (no randomness)
  bool stop_at_eot = true;       ///< stop when the model produces eot_token
  int eot_token = kEndOfTextId;  ///< the end-of-text id (a trained tokenizer may use another)
  /// Keep what the cache holds and continue after it: `prompt` is only the new tokens (see the
  /// file comment). A continued generation has no sliding window: it stops when the cache is full
  /// (Generation::context_full), and the caller decides what to drop.
  bool continue_cache = false;

  /// The sampler's part of the options.
  SamplingOptions sampling() const { return {temperature, top_k, top_p, greedy}; }
  /// Throws gpt2::Error naming the first bad option (max_new_tokens < 0, or a bad sampling option).
  void validate() const;
};

/// What generate() produced, with timings for tokens-per-second reports.
struct Generation {
  std::vector<int> tokens;           ///< the new token ids (the prompt and a final <|endoftext|> excluded)
  bool stopped_at_eot = false;       ///< true if generation ended on eot_token
  bool stopped_by_callback = false;  ///< the callback returned false
  bool context_full = false;         ///< continue_cache: the cache filled up before the end
  int window_shifts = 0;             ///< how often the sliding window re-prefilled the context
  double prefill_seconds = 0;        ///< time of the prompt's forward pass
  double decode_seconds = 0;  ///< time after the prefill: one-token passes, sampling, window re-prefills
  int decode_steps = 0;       ///< how many one-token forward passes ran
  /// Decode speed: one-token forward passes per second (0 if none ran).
  double decode_tokens_per_second() const { return decode_seconds > 0 ? decode_steps / decode_seconds : 0; }
};

/// Called with each new token id as soon as it is chosen (streaming), and the logits it was drawn
/// from (V floats on the host, the model's own scores before temperature and filters; valid during
/// the call). Returning false stops the generation after this token: it is in the result, but the
/// model has not read it (it is not in the cache).
using TokenCallback = std::function<bool(int token, std::span<const float> logits)>;

/// Generates up to options.max_new_tokens tokens after `prompt` (not empty, at most the cache's
/// capacity) with `model` and `cache` (one sequence, made for this model on its backend). The
/// cache is cleared first, so both can be reused for another prompt; its capacity is the context
/// the sliding window keeps. With options.continue_cache the cache is kept and `prompt` (the new
/// tokens) must fit after its cache.size() positions. Throws gpt2::Error for an empty or too long
/// prompt, an id outside the vocabulary, or a bad option.
Generation generate(GPT2& model, KVCache& cache, std::span<const int> prompt, const GenerateOptions& options,
                    const TokenCallback& on_token = {});

/// The same with a cache of the model's whole context (2 L maxT C floats) made for this one call.
/// Keep a KVCache yourself to reuse its memory.
Generation generate(GPT2& model, std::span<const int> prompt, const GenerateOptions& options,
                    const TokenCallback& on_token = {});

}  // namespace gpt2
