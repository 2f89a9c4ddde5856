/// @file data_parallel_run.h
/// @brief Chapter 06's whole training loop, train(), as one rank of a data-parallel job: the
/// DataParallelHook it asks (chapter 06's data_parallel_hook.h), answered over a Communicator.
///
/// Usage, in a program started by `mpirun -np N` (chapter 12's `gpt2 train` does this):
/// @code
///   gpt2::MpiCommunicator comm;
///   gpt2::DataParallelRun run(comm, {.zero1 = true}, {gpt2::file_fingerprint("train data", path)});
///   gpt2::TrainConfig config = ...;         // the same options on every rank
///   config.data_parallel = &run;
///   gpt2::train(model, config);             // rank 0 writes the run's files
/// @endcode
///
/// What each question of the loop becomes:
///
/// | train() asks      | here                                                                   |
/// |-------------------|------------------------------------------------------------------------|
/// | begin             | the ranks check that they agree (fingerprint.h: the binary, options and data given,
/// and the model's initial weights), then a DataParallel for the model | | step              |
/// DataParallel::step (buckets, rank-order sums, ZeRO-1)                  | | any, from_rank0   | one
/// all-gather of a few bytes                                          | | all_gather        | the validation
/// losses, all-gathered                                    | | save_checkpoint   | the optimizer state on
/// rank 0 (gathered from the shards with ZeRO-1), written by rank 0 in chapter 06's format, then a barrier |
/// | load_checkpoint   | every rank reads the checkpoint and keeps its part of the optimizer state |
///
/// The checkpoint is the one one process writes, so a run may go on with another number of
/// ranks, or in one process, as long as ranks × micro-batches stays the same. Every rank reads
/// the run directory to resume: on several machines it must be on a shared file system.
#pragma once

#include <filesystem>
#include <memory>
#include <vector>

#include "chapters/06_training/data_parallel_hook.h"
#include "chapters/11_distributed/communicator.h"
#include "chapters/11_distributed/data_parallel.h"
#include "chapters/11_distributed/fingerprint.h"

namespace gpt2 {

class DataParallelRun : public DataParallelHook {
 public:
  /// `checks`: what the ranks must agree on besides the model's initial weights (the binary, the
  /// options, the data files), checked at the first begin(), after every rank has read its data.
  DataParallelRun(Communicator& comm, const DataParallelOptions& options,
                  std::vector<Fingerprint> checks = {});

  int rank() const override { return comm_->rank(); }
  int ranks() const override { return comm_->size(); }
  void begin(TrainableModel& model, const AdamWConfig& config) override;
  void end() override;
  StepOutcome step(const MicroBatchSource& next, int B, int T, int K, float lr, float grad_clip,
                   const std::function<bool()>& keep_going) override;
  bool any(bool mine) override;
  double from_rank0(double mine) override;
  std::vector<float> all_gather(std::span<const float> mine) override;
  void barrier() override { comm_->barrier(); }
  std::filesystem::path save_checkpoint(const std::filesystem::path& out_dir, const TrainingState& state,
                                        int keep) override;
  TrainingState load_checkpoint(const std::filesystem::path& dir) override;

  /// The data-parallel step of the current run (between begin() and end()).
  DataParallel& data_parallel();
  /// Seconds this rank's steps spent waiting in collectives, over every run begun (see
  /// DataParallel::wait_seconds).
  double wait_seconds() const;
  /// What the overlap did, over every run begun (see GradientSync::overlap).
  GradientSync::Overlap overlap() const;

 private:
  Communicator* comm_;
  DataParallelOptions options_;
  std::vector<Fingerprint> checks_;
  bool checked_ = false;
  TrainableModel* model_ = nullptr;
  std::unique_ptr<DataParallel> dp_;
  double earlier_wait_seconds_ = 0;  // of the DataParallels of earlier runs
  GradientSync::Overlap earlier_overlap_;
};

/// The fingerprint of a model's parameters (host copies of its backend's memory): for
/// check_ranks_agree, so that ranks which start from different weights are caught.
Fingerprint parameters_fingerprint(std::string what, TrainableModel& model);

}  // namespace gpt2
