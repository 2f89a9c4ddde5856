/// @file ranks.h
/// @brief `mpirun -np N gpt2 train ...` (and `gpt2 finetune`): the program as one rank of a
/// data-parallel job (chapter 11), and what a training command adds to run so.
///
/// **The program.** main() asks started_by_mpirun(). If so, run_gpt2_as_rank() brings MPI up,
/// runs the command as this rank and, when the command fails on any rank, stops the whole job
/// with the error and the rank that had it (chapter 11's run_rank). Only rank 0 writes to stdout
/// and stderr; the others are silent but for their errors. A command not marked runs_on_ranks
/// refuses to start on more than one rank.
///
/// **A training command** (train, finetune) makes a TrainingRanks before its model's backend,
/// and hands its hook() to chapter 06's train():
/// @code
///   BackendOptions backend = backend_options(p);
///   TrainingRanks ranks(io, p, backend);           // MPI, or NCCL with --device cuda (picks the GPU)
///   std::unique_ptr<Backend> be = make_backend(backend);
///   ...
///   std::vector<Fingerprint> checks = run_option_checks(stored_args, p, *be);
///   checks.push_back(file_fingerprint("training data", train_file));  // and the other inputs
///   config.data_parallel = ranks.hook(checks);
///   train(model, config);                          // nullptr hook: one process
///   TrainingRanks::Report report = ranks.report(cpu_start);
///   if (ranks.rank() != 0) return 0;               // rank 0 writes the model and the summary
/// @endcode
/// The options (add_data_parallel_options): `--zero1` (shard AdamW's moments), `--bucket-mb MB`
/// (the bucket size of the overlap), `--rank-timeout SECONDS` (how long a rank may wait for the
/// others before the job is stopped). None of them changes a single bit of the result, so run.json
/// does not store them and a resumed run may give them again.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "chapters/06_training/data_parallel_hook.h"
#include "chapters/11_distributed/fingerprint.h"
#include "chapters/12_gpt2/args.h"
#include "chapters/12_gpt2/commands.h"
#include "chapters/12_gpt2/model_dir.h"

namespace gpt2 {

/// True when an MPI launcher (mpirun, Slurm's srun) started this process as one of several.
bool started_by_mpirun();

/// main() under mpirun: MPI up, `gpt2 <args>` as this rank of the job, MPI down. Returns the
/// command's exit status; an error on any rank stops every rank (exit status 1) with the message
/// on stderr. In a build without MPI it refuses (the copies would each train alone into the same
/// directory).
int run_gpt2_as_rank(int* argc, char*** argv, std::span<const std::string> args);

/// The number of ranks of the job a command runs in: 1 in one process.
int job_ranks(const CommandIO& io);

/// Declares `--zero1`, `--bucket-mb` and `--rank-timeout` on a training command's parser.
void add_data_parallel_options(ArgParser& p);
/// Their names: the flag, and the options that take a value.
inline const std::vector<std::string> kDataParallelFlags = {"--zero1"};
inline const std::vector<std::string> kDataParallelOptions = {"--bucket-mb", "--rank-timeout"};

/// What every rank of a training command must agree on with rank 0 besides its files: the run's
/// options (`stored`, as run.json keeps them), and how the ranks share the work and with which
/// kernels (the data-parallel options of `p`, and `backend`'s name). The binary and the initial
/// trainable weights are checked by the hook itself.
std::vector<Fingerprint> run_option_checks(std::span<const std::string> stored, const ArgParser& p,
                                           const Backend& backend);

/// "mpirun -np N " for a job of N > 1 ranks, "" for one process: how to start the run again.
std::string mpirun_prefix(int ranks);

/// The ranks a training command runs on: one process, or the job of `mpirun`.
class TrainingRanks {
 public:
  /// Joins io's job (if any) with the options of add_data_parallel_options(): a communicator of
  /// its own with a watchdog of --rank-timeout seconds; with `backend.device` "cuda", NCCL, each
  /// rank on GPU local_rank() of its machine (backend.cuda_device is set to it, so make the
  /// backend after this).
  TrainingRanks(const CommandIO& io, const ArgParser& p, BackendOptions& backend);
  ~TrainingRanks();
  TrainingRanks(const TrainingRanks&) = delete;
  TrainingRanks& operator=(const TrainingRanks&) = delete;

  int rank() const;
  int size() const;

  /// The hook for TrainConfig::data_parallel, nullptr in one process. When training begins, every
  /// rank checks that it agrees with rank 0 on `checks`, on this program's binary and on the
  /// model's initial weights (chapter 11's check_ranks_agree). The hook lives as long as this.
  DataParallelHook* hook(std::vector<Fingerprint> checks);

  /// For the start message, on rank 0 (every rank must call it: it gathers where the ranks run):
  /// "data parallel over 2 ranks: rank 0 of 2 (host h, pid p), ...; buckets of 8 MB; ZeRO-1:
  /// AdamW's moments 498 MB per rank instead of 996 MB". Empty in one process. `parameters` is
  /// the length of the gradient buffer the ranks add up (what trains). `overlaps` says whether
  /// the model reports final gradients during backward (a fine-tuned model with attached layers
  /// does only at its end); if not, the text says that the buckets go out after backward.
  std::string describe(size_t parameters, bool overlaps = true);

  /// After training, on every rank: what the summary reports (rank 0 gets every rank's numbers,
  /// in rank order; the others get theirs only).
  struct Report {
    std::vector<double> wait_seconds;  ///< time each rank's steps spent blocked in collectives
    std::vector<double> cpu_seconds;   ///< CPU time (user + system) each rank spent since `since`
    /// Each rank's fractions of the gradient reduce started, and arrived, by the end of backward
    /// (chapter 11's GradientSync::Overlap); empty in one process.
    std::vector<double> started_in_backward, arrived_in_backward;
    int ranks() const { return static_cast<int>(cpu_seconds.size()); }
    /// What summary.json adds (rank 0): "ranks", "cpu_seconds" (all ranks' together),
    /// "communication_wait_seconds" (every rank's, in rank order; 0 in one process) and, on
    /// several ranks, "reduce_started_in_backward" and "reduce_arrived_in_backward" (every
    /// rank's fraction).
    nlohmann::json summary() const;
  };
  Report report(double cpu_seconds_since);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// User + system CPU seconds this process has used so far.
double process_cpu_seconds();

}  // namespace gpt2
