// Exercises 12 (solution). Chapter 12 computes the same in text_eval.cpp (scores, windows),
// step_budget.cpp and args.cpp (ArgParser::get_int).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <numbers>

#include "common/error.h"
#include "exercise.h"

namespace exercise {

Scores scores(const std::vector<std::string>& tokens, const std::vector<double>& nats) {
  double total = 0;  // nats of the whole text
  for (double x : nats) total += x;
  size_t bytes = 0;  // of the predicted tokens x_1 .. x_{N-1}: nothing predicts x_0
  for (size_t t = 1; t < tokens.size(); ++t) bytes += tokens[t].size();
  Scores s;
  s.loss = total / static_cast<double>(nats.size());
  s.perplexity = std::exp(s.loss);
  s.bits_per_byte = total / (std::numbers::ln2 * static_cast<double>(bytes));  // nats -> bits: / ln 2
  return s;
}

std::vector<Window> sliding_windows(int64_t N, int max_T, int stride) {
  std::vector<Window> windows;
  if (N < 2) return windows;
  // The first window predicts x_1 .. x_end from x_0 .. x_{end-1}.
  int64_t end = std::min<int64_t>(N - 1, max_T);
  windows.push_back({0, static_cast<int>(end), 1});
  while (end < N - 1) {
    // The next one predicts up to `stride` more tokens, from the max_T inputs just before x_next.
    const int64_t next = std::min<int64_t>(end + stride, N - 1);
    const int64_t start = std::max<int64_t>(0, next - max_T);
    windows.push_back({start, static_cast<int>(next - start), end + 1});
    end = next;
  }
  return windows;
}

int steps_for_budget(double step_seconds, double forward_seconds, double seconds, int eval_interval,
                     int eval_steps) {
  // A step's share of the validation: eval_steps forward passes every eval_interval steps.
  double per_step = step_seconds;
  if (eval_interval > 0) per_step += forward_seconds * eval_steps / eval_interval;
  per_step *= 1.03;  // the optimizer, checkpoints and stragglers
  const double steps = std::floor(seconds / per_step);
  return steps < 1 ? 1 : static_cast<int>(std::min(steps, 1e9));
}

long long parse_int_option(const std::string& flag, const std::string& text, long long min, long long max) {
  // std::from_chars: no locale, no leading spaces or '+', and it reports overflow; it must also
  // consume the whole text ("12x" stops after "12").
  long long value = 0;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  const auto [end, error] = std::from_chars(first, last, value);
  GPT2_CHECK(!text.empty() && error == std::errc() && end == last, "option '", flag,
             "' expects an integer, got '", text, "'");
  GPT2_CHECK(value >= min && value <= max, "option '", flag, "' must be between ", min, " and ", max,
             ", got ", value);
  return value;
}

}  // namespace exercise
