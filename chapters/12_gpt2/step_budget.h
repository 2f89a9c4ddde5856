/// @file step_budget.h
/// @brief Fitting a training run into a time budget: how many steps fit, so that the
/// learning-rate schedule's cosine decay ends when the time does.
///
/// Chapter 06's schedule is a function of the step number s and the total S. A run that stops on a
/// clock half-way through its schedule ends at a high learning rate, which costs loss: the last
/// part of the cosine, where the rate falls to its floor, is where the loss drops fastest. So
/// `gpt2 train --time-budget SECONDS` without `--steps` first trains the warmup steps (at least
/// 20) with a provisional, very long schedule (the warmup's learning rates do not depend on S),
/// times them, and then continues, exactly, through a checkpoint, with
///
/// \f[ S = s_{\text{probe}} + \left\lfloor \frac{\text{budget} - t_{\text{so far}}}
///          {1.03 \left(t_{\text{step}} + t_{\text{forward}} \cdot
///          \text{eval\_steps} / \text{eval\_interval}\right)} \right\rfloor \f]
///
/// where \f$ t_{\text{step}} \f$ is the median time of the later half of the probe's steps (the
/// very first steps are slower: memory is touched for the first time, caches are cold) and a
/// validation batch is taken to cost a third of a step (a forward pass without the backward).
/// The 3 percent pays for checkpoints and the occasional slower step. If other programs slow the
/// machine down later, the budget still stops the run on the clock, a little before the end of
/// its schedule.
#pragma once

#include <cstdint>
#include <span>

#include "chapters/06_training/metrics.h"

namespace gpt2 {

/// Seconds of one optimizer step and of one validation batch.
struct StepTiming {
  double step_seconds = 0;     ///< K forward + backward passes at (B, T) and the update
  double forward_seconds = 0;  ///< one forward pass at (B, T) (what a validation batch costs)
};

/// The median seconds per step of metrics rows (from their tokens_per_sec and the tokens of a
/// step); 0 for no rows.
double median_step_seconds(std::span<const StepMetrics> rows, int64_t tokens_per_step);

/// The number of steps (at least 1) that fit in `seconds` (see the file comment).
int steps_for_budget(const StepTiming& timing, double seconds, int eval_interval, int eval_steps);

}  // namespace gpt2
