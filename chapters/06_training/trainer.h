/// @file trainer.h
/// @brief The training loop: TrainConfig (every option) and train(), which chapter 12's
/// `gpt2 train` calls.
///
/// One optimizer step s (0-based) of train():
///
///  1. η = lr_at(schedule, s)                         warmup, then cosine decay (lr_schedule.h)
///  2. zero the gradients; for each of the K micro-batches: next (B, T) batch, forward (loss),
///     backward (gradients add up)                  gradient accumulation
///  3. g ← g / K                                      the mean over the K micro-batches' targets
///     (with micro-batches of different numbers of targets n_k, as fine-tuning has, each one's
///     mean loss is weighed by n_k / n_0 and the sum divided by Σ n_k / n_0: the loss of a step
///     is the mean over all of its targets, and the weights are exactly 1 when every n_k is equal)
///  4. ‖g‖, clip to grad_clip                         (grad_clip.h)
///  5. AdamW update with η                           (adamw.h)
///  6. every eval_interval steps: mean validation loss over eval_steps batches
///  7. a row of metrics.csv, the progress bar; every checkpoint_interval steps (and at the end, and
///     on Ctrl-C) a checkpoint (checkpoint.h)
///
/// With resume=true, train() first loads the newest checkpoint in out_dir and continues from it;
/// the losses are then bit for bit those of a run that never stopped.
///
/// Stopping early. Ctrl-C (or request_stop()) and a time budget stop the run at a consistent
/// point and save a checkpoint there. Both are looked at before each step and, so that a step of
/// many micro-batches cannot run on for minutes, before each micro-batch after the first: a step
/// stopped part-way is abandoned (its gradients are dropped, the data position goes back to where
/// the step began), so the checkpoint is the state after the last whole step and a resumed run
/// redoes the abandoned step exactly. The budget counts the run's time across resumes; a step is
/// not started if the previous one's duration says it would end past the budget.
///
/// Divergence. A NaN or infinite loss or gradient norm stops the run with a gpt2::Error naming
/// the step, before that step's update: nothing is written after the last good checkpoint.
///
/// PyTorch: nanoGPT's train.py loop.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "data_loader.h"
#include "metrics.h"
#include "trainable.h"

namespace gpt2 {

/// Every option of a training run. The defaults are small-model settings (nanoGPT's Shakespeare).
struct TrainConfig {
  std::filesystem::path train_file;  ///< token file with the training data (token_file.h)
  std::filesystem::path val_file;    ///< token file with the validation data; empty: no validation
  /// Batches from another source than token files (chapter 10's labelled texts and instruction
  /// examples; not owned): when set, train() takes its training batches from here instead of
  /// train_file, and validation batches from val_batches (null: no validation). Their B and T
  /// must be batch_size and seq_len; their state goes into every checkpoint like the loader's.
  BatchSource* train_batches = nullptr;
  BatchSource* val_batches = nullptr;
  std::filesystem::path out_dir = "run";  ///< metrics.csv, loss.svg and checkpoints/ go here

  int batch_size = 8;        ///< B, sequences per micro-batch
  int seq_len = 64;          ///< T, tokens per sequence (<= the model's context)
  int grad_accum_steps = 1;  ///< K, micro-batches per optimizer step
  int steps = 1000;          ///< optimizer steps of the whole run

  float lr = 1e-3f;           ///< peak learning rate η_max
  float min_lr = 1e-4f;       ///< floor η_min of the cosine decay
  int warmup_steps = 100;     ///< linear warmup steps
  float weight_decay = 0.1f;  ///< AdamW weight decay (matrices only)
  float beta1 = 0.9f;         ///< AdamW β1
  float beta2 = 0.95f;        ///< AdamW β2
  float eps = 1e-8f;          ///< AdamW ε
  float grad_clip = 1.0f;     ///< max global gradient norm (<= 0: no clipping)

  int eval_interval = 100;        ///< validate every this many steps (and at the end); 0: never
  int eval_steps = 20;            ///< validation batches per evaluation
  int checkpoint_interval = 500;  ///< checkpoint every this many steps (and at the end); 0: only at the end
  int keep_checkpoints = 2;       ///< how many checkpoints to keep
  uint64_t seed = 1337;           ///< seed of the training data's shuffling and of dropout's masks
  bool shuffle = true;            ///< visit the training windows in a random order each epoch
  bool resume = false;            ///< continue from out_dir's newest checkpoint if there is one
  bool progress = true;           ///< draw a progress bar on stderr (only on a terminal)
  std::string title = "training loss";  ///< title of loss.svg
  double time_budget_seconds = 0;       ///< stop once the run's time would pass this (0: no budget)
  /// Called once everything is checked (the options, the data, the checkpoint to resume from),
  /// just before train() writes its first file: a caller that records the run (chapter 12's
  /// run.json) does it here, so that a run that never started leaves no record behind.
  std::function<void()> on_start;
  /// Seconds on a steady clock, for the budget and the metrics (empty: the system's steady clock).
  /// Tests pass a clock of their own, so that what they check does not depend on the machine's speed.
  std::function<double()> clock;
};

/// What train() returns.
struct TrainResult {
  std::vector<StepMetrics> history;       ///< the rows of this call (not those before a resume)
  int start_step = 0;                     ///< step the call started from (0, or the resumed checkpoint's)
  int final_step = 0;                     ///< completed steps when train() returned
  bool interrupted = false;               ///< stopped early: Ctrl-C, request_stop() or the time budget
  bool budget_reached = false;            ///< stopped early by the time budget
  std::filesystem::path last_checkpoint;  ///< the checkpoint written last
};

/// Called after every step with its metrics (tests use it to stop a run part-way).
using StepCallback = std::function<void(const StepMetrics&)>;

/// Throws gpt2::Error naming the first option that is out of range.
void validate(const TrainConfig& config);

/// What became of an optimizer step.
enum class StepStatus {
  kUpdated,    ///< the parameters and the optimizer were updated
  kAbandoned,  ///< stopped before its last micro-batch (keep_going() said no): nothing changed
  kNonFinite,  ///< the loss or the gradient norm is NaN or infinite: not applied, nothing changed
};

/// What one optimizer step reports.
struct StepOutcome {
  float loss = 0;       ///< mean loss over the micro-batches (before the update)
  float grad_norm = 0;  ///< global gradient norm before clipping
  StepStatus status = StepStatus::kUpdated;
};

/// Writes micro-batch k (0 <= k < K) of a step: B·T input ids and B·T target ids.
using MicroBatchSource = std::function<void(int k, int* inputs, int* targets)>;

/// One optimizer step (steps 2-5 of the file comment): K micro-batches from `next`, gradients
/// averaged over them, clipped to grad_clip (<= 0: no clipping), then an AdamW update at learning
/// rate lr. Before each micro-batch after the first, `keep_going` (when given) is asked whether to
/// go on; if not, the step is abandoned. A non-finite loss or gradient norm skips the update.
/// train() calls this.
StepOutcome train_step(TrainableModel& model, AdamW& optimizer, const MicroBatchSource& next, int B, int T,
                       int K, float lr, float grad_clip, const std::function<bool()>& keep_going = {});
/// The same with the K micro-batches in arrays of K·B·T ids (micro-batch k at offset k·B·T); the
/// PyTorch parity test calls this.
StepOutcome train_step(TrainableModel& model, AdamW& optimizer, const int* inputs, const int* targets, int B,
                       int T, int K, float lr, float grad_clip);

/// Mean loss over `batches` batches (at most one epoch) from the start of `loader` (which is reset
/// first), with the model in evaluation mode (no dropout).
float evaluate(TrainableModel& model, BatchSource& loader, int batches);

/// Runs (or resumes) a training run; see the file comment.
TrainResult train(TrainableModel& model, const TrainConfig& config, const StepCallback& on_step = {});

}  // namespace gpt2
