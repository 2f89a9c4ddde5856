// Exercises 12 (student version): replace each `throw` with your code, then build and run
//   ./build-student/bin/exercise_12_gpt2
// (exercises/12_gpt2/README.md has the tasks, exercise.h the contracts).
#include "common/error.h"
#include "exercise.h"

namespace exercise {

Scores scores(const std::vector<std::string>& tokens, const std::vector<double>& nats) {
  // TODO(12.1): loss, perplexity and bits per byte of a text (the formulas are in chapter 12,
  // "eval"; which bytes count is in exercise.h).
  (void)tokens, (void)nats;
  throw gpt2::Error("exercise 12.1 scores: not implemented yet");
}

std::vector<Window> sliding_windows(int64_t N, int max_T, int stride) {
  // TODO(12.2): the windows of chapter 12's "The sliding window", in order.
  (void)N, (void)max_T, (void)stride;
  throw gpt2::Error("exercise 12.2 sliding_windows: not implemented yet");
}

int steps_for_budget(double step_seconds, double forward_seconds, double seconds, int eval_interval,
                     int eval_steps) {
  // TODO(12.3): the number of steps that fit in `seconds` (chapter 12, "A time budget", and the
  // worked example in exercise.h).
  (void)step_seconds, (void)forward_seconds, (void)seconds, (void)eval_interval, (void)eval_steps;
  throw gpt2::Error("exercise 12.3 steps_for_budget: not implemented yet");
}

long long parse_int_option(const std::string& flag, const std::string& text, long long min, long long max) {
  // TODO(12.4): the option's value, or one gpt2::Error naming the flag and quoting the text
  // (GPT2_CHECK in common/error.h builds such a message).
  (void)flag, (void)text, (void)min, (void)max;
  throw gpt2::Error("exercise 12.4 parse_int_option: not implemented yet");
}

}  // namespace exercise
