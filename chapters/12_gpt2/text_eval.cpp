#include "chapters/12_gpt2/text_eval.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "common/error.h"

namespace gpt2 {

std::vector<EvalWindow> plan_eval_windows(int64_t n_tokens, int max_T, int stride) {
  GPT2_CHECK(max_T >= 1, "eval: the context must be at least 1 position, got ", max_T);
  GPT2_CHECK(stride >= 1 && stride <= max_T, "eval: the stride must be in [1, ", max_T, "], got ", stride);
  std::vector<EvalWindow> windows;
  if (n_tokens < 2) return windows;
  const int64_t last = n_tokens - 1;             // the index of the last token, the last one to predict
  int64_t end = std::min<int64_t>(last, max_T);  // e_0: window 0 predicts x_1 .. x_{e_0}
  windows.push_back({0, static_cast<int>(end), 1});
  while (end < last) {
    const int64_t next_end = std::min(end + stride, last);
    const int64_t start = std::max<int64_t>(0, next_end - max_T);
    windows.push_back({start, static_cast<int>(next_end - start), end + 1});
    end = next_end;
  }
  return windows;
}

TextEval evaluate_text(GPT2& model, const Tokenizer& tokenizer, std::span<const int> ids, int max_T,
                       int stride, int batch_size, const std::function<void(int64_t, int64_t)>& on_progress) {
  const GPT2Config& config = model.config();
  const int64_t N = static_cast<int64_t>(ids.size());
  GPT2_CHECK(N >= 2, "eval: the text has ", N,
             " token(s); at least 2 are needed (one to predict from, one to predict)");
  if (max_T <= 0) max_T = config.n_positions;
  GPT2_CHECK(max_T <= config.n_positions, "eval: a context of ", max_T,
             " positions is longer than the model's ", config.n_positions);
  if (stride <= 0) stride = std::max(1, max_T / 2);
  const std::vector<EvalWindow> windows = plan_eval_windows(N, max_T, stride);
  const int T = windows[0].length;  // every window has this length (see plan_eval_windows)
  if (batch_size <= 0) {
    // The logits (B, T, V) dominate the forward pass's memory: keep them near 256 MB.
    const int64_t per_window = int64_t{T} * config.vocab_size;
    batch_size = static_cast<int>(std::clamp<int64_t>((int64_t{64} << 20) / per_window, 1, 64));
  }
  const int B = static_cast<int>(std::min<int64_t>(batch_size, static_cast<int64_t>(windows.size())));

  TextEval r;
  r.tokens = N;
  r.predicted = N - 1;
  r.max_T = max_T;
  r.stride = stride;
  for (int64_t t = 1; t < N; ++t) {
    const std::string_view bytes = tokenizer.token_bytes(ids[static_cast<size_t>(t)]);
    r.bytes += static_cast<int64_t>(bytes.size());
    for (unsigned char c : bytes) r.chars += (c & 0xC0) != 0x80;  // 10xxxxxx continues a character
  }

  std::vector<int> inputs(static_cast<size_t>(B) * T), targets(inputs.size());
  for (size_t w0 = 0; w0 < windows.size(); w0 += B) {
    for (int b = 0; b < B; ++b) {
      int* in = inputs.data() + static_cast<size_t>(b) * T;
      int* tg = targets.data() + static_cast<size_t>(b) * T;
      if (w0 + b >= windows.size()) {  // a short last batch: pad with rows that score nothing
        std::copy(inputs.begin(), inputs.begin() + T, in);
        std::fill(tg, tg + T, -1);
        continue;
      }
      const EvalWindow& w = windows[w0 + b];
      for (int j = 0; j < T; ++j) {
        const int64_t t = w.start + j + 1;  // the token position j predicts
        in[j] = ids[static_cast<size_t>(w.start + j)];
        tg[j] = t >= w.first_target ? ids[static_cast<size_t>(t)] : -1;
      }
    }
    model.forward(inputs.data(), targets.data(), B, T);
    const std::span<const float> losses = model.losses();  // (B, T), 0 where the target is -1
    for (size_t i = 0; i < losses.size(); ++i)
      if (targets[i] >= 0) r.total_nats += losses[i];
    if (on_progress) on_progress(std::min(w0 + B, windows.size()), static_cast<int64_t>(windows.size()));
  }
  r.loss = r.total_nats / static_cast<double>(r.predicted);
  r.perplexity = std::exp(r.loss);
  r.bits_per_byte = r.total_nats / (std::numbers::ln2 * static_cast<double>(std::max<int64_t>(r.bytes, 1)));
  r.nats_per_char = r.total_nats / static_cast<double>(std::max<int64_t>(r.chars, 1));
  return r;
}

}  // namespace gpt2
