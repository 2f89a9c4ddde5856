/// @file exercises/12_gpt2/exercise.h
/// @brief Exercises 12: the numbers `gpt2 eval` prints, its sliding window, sizing a run to a
/// time budget, and reading a number from the command line.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace exercise {

/// What 12.1 computes.
struct Scores {
  double loss = 0;           ///< mean nats per predicted token
  double perplexity = 0;     ///< exp(loss)
  double bits_per_byte = 0;  ///< total nats / (ln 2 * bytes of the predicted tokens)
};

/// 12.1: the scores of a text from its tokens' bytes, `tokens` (N >= 2 byte strings, x_0 .. x_{N-1}),
/// and the cross-entropy of each prediction, `nats` (N - 1 values: nats[t - 1] = -ln p(x_t | ...)).
/// The first token is not predicted, so its bytes do not count.
/// Example: tokens {"To", " be", ","}, nats {2, 1}: loss 1.5, perplexity e^1.5, 3 / (ln 2 * 4) bits per byte.
Scores scores(const std::vector<std::string>& tokens, const std::vector<double>& nats);

/// One window of 12.2: inputs x[start, start + length), scoring the targets x_t with t >= first_target.
struct Window {
  int64_t start = 0;
  int length = 0;
  int64_t first_target = 0;
  bool operator==(const Window&) const = default;
};

/// 12.2: the sliding windows for N tokens, a context of max_T positions and a stride S
/// (chapters/12_gpt2/text_eval.h): the first window predicts x_1 .. x_e with e = min(N - 1, max_T);
/// each next one the next S tokens, up to e' = min(e + S, N - 1), from the max_T tokens before x_e'.
/// Empty when N < 2. Example: N = 10, max_T = 4, S = 2 ->
/// {0, 4, 1}, {2, 4, 5}, {4, 4, 7}, {5, 4, 9}.
std::vector<Window> sliding_windows(int64_t N, int max_T, int stride);

/// 12.3: how many optimizer steps fit in `seconds` when a step takes `step_seconds`, a validation
/// batch `forward_seconds`, and every `eval_interval` steps (0: never) `eval_steps` batches are
/// validated; 3 percent more for the optimizer and checkpoints; at least 1.
/// Example: 1 s per step, 0.2 s per batch, 10 batches every 100 steps, 103 s: a step costs
/// 1.03 * (1 + 0.2 * 10 / 100) = 1.0506 s, so floor(103 / 1.0506) = 98 steps.
int steps_for_budget(double step_seconds, double forward_seconds, double seconds, int eval_interval,
                     int eval_steps);

/// 12.4: the value of an integer command-line option `flag` (e.g. "--steps") given as `text`:
/// decimal digits with an optional leading '-', nothing else (no spaces, no '+', no exponent),
/// within [min, max]. Anything else throws gpt2::Error with one message that names the flag and
/// quotes the text: "option '--steps' expects an integer, got '12x'", or, out of range,
/// "option '--steps' must be between 1 and 1000000, got 0".
long long parse_int_option(const std::string& flag, const std::string& text, long long min, long long max);

}  // namespace exercise
