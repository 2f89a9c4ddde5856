/// @file step_budget.h
/// @brief Fitting a training run into a time budget: how long one step takes, and how many steps
/// fit, so that the learning-rate schedule's cosine decay ends when the time does.
///
/// Chapter 06's schedule is a function of the step number s and the total S. A run that stops on a
/// clock half-way through its schedule ends at a high learning rate, which costs loss: the last
/// part of the cosine, where the rate falls to its floor, is where the loss drops fastest. So
/// `gpt2 train --time-budget SECONDS` without `--steps` first times a few steps and sets
///
/// \f[ S = \left\lfloor \frac{\text{budget} - \text{calibration}}
///          {1.03 \left(t_{\text{step}} + t_{\text{forward}} \cdot
///          \text{eval\_steps} / \text{eval\_interval}\right)} \right\rfloor \f]
///
/// (a step, plus its share of the periodic validation; 3% for the optimizer update and the
/// checkpoints). Other programs on the machine make steps slower than measured; the budget then
/// still stops the run in time (on the clock), a little before the end of its schedule.
#pragma once

#include "chapters/05_gpt2_model/gpt2.h"
#include "chapters/06_training/data_loader.h"

namespace gpt2 {

/// Measured seconds of one optimizer step's forward and backward passes, and of one forward pass.
struct StepTiming {
  double step_seconds = 0;     ///< K forward + backward passes at (B, T)
  double forward_seconds = 0;  ///< one forward pass at (B, T) (what a validation batch costs)
};

/// Times `model` on the first batches of `loader` (untouched weights: only the gradients change):
/// one untimed pass first (memory allocation, caches), then the median of `repeats` timed ones.
StepTiming measure_step(GPT2& model, DataLoader& loader, int grad_accum_steps, int repeats = 3);

/// The number of steps (at least 1) that fit in `seconds` (see the file comment).
int steps_for_budget(const StepTiming& timing, double seconds, int eval_interval, int eval_steps);

}  // namespace gpt2
