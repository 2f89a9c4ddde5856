/// @file text_eval.h
/// @brief How well a model predicts a text: mean next-token cross-entropy, perplexity and bits per
/// byte, with a sliding window for texts longer than the context (what `gpt2 eval` prints).
///
/// The text is encoded as ordinary text into ids \f$ x_0 \ldots x_{N-1} \f$ (nothing prepended).
/// Every token after the first is predicted from the tokens before it (as many as the context
/// holds), so there are N - 1 predictions and
///
/// \f[ \text{loss} = \frac{1}{N-1} \sum_{t=1}^{N-1} -\ln p(x_t \mid x_{s_t} \ldots x_{t-1}),
///     \qquad \text{perplexity} = e^{\text{loss}}, \qquad
///     \text{bits per byte} = \frac{\sum_t -\ln p(x_t \mid \ldots)}{\ln 2 \cdot \text{bytes}} \f]
///
/// where *bytes* counts the bytes of the predicted tokens \f$ x_1 \ldots x_{N-1} \f$: the text's
/// bytes minus those of its first token, which nobody predicts. Bits per byte compares models
/// with different tokenizers (a tokenizer with longer tokens has a higher loss per token but
/// fewer tokens). Nats per character divides by the characters instead: the bytes that start a
/// UTF-8 character (for ASCII text, every byte, so nats per character = bits per byte times ln 2).
///
/// **The sliding window.** A model sees at most maxT positions. With a stride S (1 <= S <= maxT),
/// the first window predicts \f$ x_1 \ldots x_{e_0} \f$ with \f$ e_0 = \min(N-1, \text{maxT}) \f$
/// from the inputs \f$ x_0 \ldots x_{e_0 - 1} \f$; window k then predicts the next S tokens
/// \f$ x_{e_{k-1}+1} \ldots x_{e_k} \f$, \f$ e_k = \min(e_{k-1} + S, N - 1) \f$, from the inputs
/// \f$ x_{e_k - \text{maxT}} \ldots x_{e_k - 1} \f$. Every token is predicted exactly once, and
/// (outside the first window) from at least maxT - S + 1 tokens of context. S = maxT gives
/// disjoint windows: the cheapest pass, and the windows the training loop validates on. A smaller
/// S gives every prediction more context, so a lower loss, at maxT / S times the cost. The default
/// S = maxT / 2 is the usual compromise (Hugging Face's perplexity guide for GPT-2 uses it).
///
/// PyTorch: `model(ids[:, s:e], labels=targets)` per window, with the labels of the positions
/// already scored set to -100, summed over windows (the Hugging Face perplexity recipe).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "chapters/01_tokenizer/tokenizer.h"
#include "chapters/05_gpt2_model/gpt2.h"

namespace gpt2 {

/// One forward pass of the sliding window: inputs x[start, start + length), targets
/// x[start + 1, start + length + 1); only targets x_t with t >= first_target are scored.
struct EvalWindow {
  int64_t start = 0;
  int length = 0;
  int64_t first_target = 0;
};

/// The windows for N tokens, a context of max_T positions and stride S (see the file comment).
/// Every window but (possibly) the only one has length max_T. Empty when N < 2.
std::vector<EvalWindow> plan_eval_windows(int64_t n_tokens, int max_T, int stride);

/// What evaluate_text() measured.
struct TextEval {
  int64_t tokens = 0;         ///< N, the tokens of the text
  int64_t predicted = 0;      ///< N - 1, the tokens scored
  int64_t bytes = 0;          ///< bytes of the predicted tokens x_1 .. x_{N-1}
  int64_t chars = 0;          ///< UTF-8 characters among those bytes (the bytes that are not 10xxxxxx)
  double total_nats = 0;      ///< sum of -ln p over the predicted tokens
  double loss = 0;            ///< total_nats / predicted: mean cross-entropy in nats per token
  double perplexity = 0;      ///< exp(loss)
  double bits_per_byte = 0;   ///< total_nats / (ln 2 * bytes)
  double nats_per_char = 0;   ///< total_nats / chars (= bits_per_byte * ln 2 for ASCII text)
  int max_T = 0, stride = 0;  ///< the window used
};

/// Scores the ids `ids` (N >= 2) with `model` (see the file comment). max_T <= 0 means the model's
/// context, stride <= 0 means max_T / 2 (at least 1); batch_size windows go through the model at
/// once (<= 0: as many as keep the logits under about 256 MB). `tokenizer` gives each token's
/// byte count. on_progress(done, total) is called after each batch of windows.
TextEval evaluate_text(GPT2& model, const Tokenizer& tokenizer, std::span<const int> ids, int max_T = 0,
                       int stride = 0, int batch_size = 0,
                       const std::function<void(int64_t, int64_t)>& on_progress = {});

}  // namespace gpt2
