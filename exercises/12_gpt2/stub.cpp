// Exercises 12 (student version): replace each `throw` with your code, then run
//   ./build-student/bin/exercise_12_gpt2
// (see exercises/12_gpt2/README.md).
#include "common/error.h"
#include "exercise.h"

namespace exercise {

Scores scores(const std::vector<std::string>& tokens, const std::vector<double>& nats) {
  // TODO(10.1): add up nats (the total), count the bytes of tokens[1] .. tokens[N-1], then
  // loss = total / (N - 1), perplexity = exp(loss), bits_per_byte = total / (ln 2 * bytes)
  // (std::numbers::ln2 in <numbers>).
  (void)tokens;
  (void)nats;
  throw gpt2::Error("exercise 10.1 scores: not implemented yet");
}

std::vector<Window> sliding_windows(int64_t N, int max_T, int stride) {
  // TODO(10.2): if N < 2 return {}. The first window is {0, e, 1} with e = min(N - 1, max_T).
  // While e < N - 1: e' = min(e + stride, N - 1), start = max(0, e' - max_T), push
  // {start, e' - start, e + 1}, e = e'.
  (void)N;
  (void)max_T;
  (void)stride;
  throw gpt2::Error("exercise 10.2 sliding_windows: not implemented yet");
}

int steps_for_budget(double step_seconds, double forward_seconds, double seconds, int eval_interval,
                     int eval_steps) {
  // TODO(10.3): per step = step_seconds, plus forward_seconds * eval_steps / eval_interval when
  // eval_interval > 0, times 1.03. Return floor(seconds / per step), but at least 1.
  (void)step_seconds;
  (void)forward_seconds;
  (void)seconds;
  (void)eval_interval;
  (void)eval_steps;
  throw gpt2::Error("exercise 10.3 steps_for_budget: not implemented yet");
}

}  // namespace exercise
