/// @file data_parallel_hook.h
/// @brief What train() needs in order to run as one rank of a data-parallel job. Chapter 11
/// implements it (DataParallelRun); this chapter only says where the loop asks.
///
/// In a data-parallel job (chapter 11) N copies of the program, the ranks, train one model
/// together: each holds the whole model and computes the gradients of its share of every global
/// batch of M = N·K micro-batches, and the ranks add their gradients up before the update. With
/// TrainConfig::data_parallel set, train() is the same loop as in one process, with these
/// differences:
///
///  - **the step** is the hook's step() instead of train_step(): rank r takes the micro-batches
///    j = k·N + r (k = 0 .. K−1) of each global batch, which the data loader serves in the same
///    order as to one process; so every rank's loader is where one process's would be. Each
///    micro-batch gets what it gets in one process: its weight (relative to global micro-batch 0,
///    which every rank reads) and its dropout masks (forward pass step·N·K + j);
///  - **every decision is common**: a stop (Ctrl-C, request_stop(), the time budget) asked for on
///    any rank stops every rank (any()), and every reading of the clock is rank 0's (from_rank0()),
///    so the ranks stop, validate and checkpoint at the same steps;
///  - **validation** is shared out: rank r computes batches i with i mod N = r, and the losses are
///    gathered and added in batch order, the number one process computes;
///  - **files**: rank 0 alone writes metrics.csv, loss.svg and the checkpoints (save_checkpoint(),
///    which may first gather the optimizer's state from the ranks); every rank reads the
///    checkpoint it resumes from. The training state records the M micro-batches of a global
///    step, so a run can resume with any N and K whose product is M, one process included.
///
/// Every method is a collective: each rank calls it at the same point of the loop, which is why
/// the decisions above must be common.
#pragma once

#include <filesystem>
#include <functional>
#include <span>
#include <vector>

#include "adamw.h"
#include "checkpoint.h"
#include "trainable.h"
#include "trainer.h"

namespace gpt2 {

class DataParallelHook {
 public:
  virtual ~DataParallelHook() = default;

  /// This rank, 0 .. ranks() − 1, and the number of ranks N.
  virtual int rank() const = 0;
  virtual int ranks() const = 0;

  /// Called by train() once its data is loaded and checked, before the first step or
  /// checkpoint: the run's model and AdamW settings. The hook builds the optimizer (or its share
  /// of it) and checks what the ranks must agree on. train() calls it again if it is called
  /// again (a fresh optimizer, as in one process).
  virtual void begin(TrainableModel& model, const AdamWConfig& config) = 0;
  /// Called when train() returns or throws after begin(): the hook lets go of the model (which
  /// may not outlive the call).
  virtual void end() = 0;

  /// One optimizer step of the global batch, with train_step()'s contract: `next(k, ...)` gives
  /// this rank's micro-batch k of K (global micro-batch k·N + rank()) and its weight; the outcome (mean loss
  /// over all N·K micro-batches, the norm, the status) is the same on every rank. `keep_going` is asked at
  /// the same points on every rank and answers the same everywhere.
  virtual StepOutcome step(const MicroBatchSource& next, int B, int T, int K, float lr, float grad_clip,
                           const std::function<bool()>& keep_going) = 0;

  /// True on every rank when `mine` is true on at least one.
  virtual bool any(bool mine) = 0;
  /// Rank 0's value, on every rank.
  virtual double from_rank0(double mine) = 0;
  /// Every rank's values (as many on every rank), in rank order: result[r · mine.size() + i] is
  /// rank r's mine[i].
  virtual std::vector<float> all_gather(std::span<const float> mine) = 0;
  /// Returns once every rank has called it.
  virtual void barrier() = 0;

  /// Writes a checkpoint of the run (chapter 06's format: what one process would write) and
  /// returns its directory. Rank 0 writes; when the call returns on any rank, the checkpoint is
  /// complete.
  virtual std::filesystem::path save_checkpoint(const std::filesystem::path& out_dir,
                                                const TrainingState& state, int keep) = 0;
  /// Loads checkpoint `dir` on this rank: the model, the optimizer's state (or this rank's share
  /// of it), and returns state.json's contents.
  virtual TrainingState load_checkpoint(const std::filesystem::path& dir) = 0;
};

}  // namespace gpt2
