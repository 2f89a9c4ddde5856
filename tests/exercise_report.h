/// @file exercise_report.h
/// @brief The one-line verdict every exercise program prints for each task.
///
/// Every exercise program (see exercises/CMakeLists.txt) links tests/exercise_report.cpp, a Catch2
/// listener that prints, after each TEST_CASE, one line
///
///     exercise 03.1 softmax_backward matches PyTorch and adds: passed
///     exercise 03.2 causal_attention_weights matches PyTorch: not implemented yet
///     exercise 04.1 layernorm_backward ...: wrong: dinp: MISMATCH, ..., worst element [3] = ...
///
/// The verdict is
/// - `not implemented yet` when the test case stopped on an exception whose message contains
///   "not implemented yet" (what every stub throws),
/// - `wrong: ...` when a check failed, with the INFO message of the first failed check (for array
///   comparisons that message names the worst element) or else the check's expansion, or an
///   unexpected exception's message,
/// - `skipped: ...` when the test case called GPT2_EXERCISE_SKIP (a CUDA task without a GPU),
/// - `passed` otherwise.
/// `scripts/check_exercises.sh` collects these lines.
#pragma once

#include "tests/catch.h"

/// Ends the current TEST_CASE early and reports the task as skipped, for example a CUDA task on a
/// machine without a GPU: `if (!gpu) GPT2_EXERCISE_SKIP("no CUDA GPU");`. CTest shows it Skipped.
#define GPT2_EXERCISE_SKIP(reason) \
  do {                             \
    WARN("skipped: " << reason);   \
    return;                        \
  } while (false)
