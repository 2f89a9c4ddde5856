// Exercises 12 (solution): the answers are what chapters/12_gpt2 does.
#include <cmath>
#include <numbers>

#include "chapters/12_gpt2/step_budget.h"
#include "chapters/12_gpt2/text_eval.h"
#include "exercise.h"

namespace exercise {

Scores scores(const std::vector<std::string>& tokens, const std::vector<double>& nats) {
  // text_eval.cpp computes the same from the model's losses and the tokenizer's token bytes.
  double total = 0;
  for (double x : nats) total += x;
  size_t bytes = 0;
  for (size_t t = 1; t < tokens.size(); ++t) bytes += tokens[t].size();
  Scores s;
  s.loss = total / static_cast<double>(nats.size());
  s.perplexity = std::exp(s.loss);
  s.bits_per_byte = total / (std::numbers::ln2 * static_cast<double>(bytes));
  return s;
}

std::vector<Window> sliding_windows(int64_t N, int max_T, int stride) {
  std::vector<Window> out;
  for (const gpt2::EvalWindow& w : gpt2::plan_eval_windows(N, max_T, stride))
    out.push_back({w.start, w.length, w.first_target});
  return out;
}

int steps_for_budget(double step_seconds, double forward_seconds, double seconds, int eval_interval,
                     int eval_steps) {
  return gpt2::steps_for_budget({step_seconds, forward_seconds}, seconds, eval_interval, eval_steps);
}

}  // namespace exercise
