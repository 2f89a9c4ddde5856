/// @file data_parallel.h
/// @brief One data-parallel optimizer step: N ranks, each with the whole model and its share of
/// the global batch, that train exactly like one process.
///
/// **The global batch.** A step of one process with gradient accumulation over M micro-batches
/// g_0, ..., g_{M−1} (each the gradient of a mean loss over B·T positions) uses the mean
/// gradient (1/M) Σ_j g_j. With N ranks and K micro-batches per rank (M = N·K), rank r takes the
/// micro-batches j = k·N + r, k = 0 .. K−1 (so with K = 1, rank r takes window r of every global
/// batch). The mean over the global batch is the mean of the ranks' means, so the ranks only have
/// to sum their gradients and divide by N·K.
///
/// **The rule for the same bits.** One process must add the micro-batch gradients in the order
/// j = 0, 1, ..., M − 1, each computed on its own (backward into zeroed gradients), into an
/// accumulator: acc = g_0, acc = acc + g_1, and so on. The ranks do the same additions in the
/// same order: after micro-batch k, the owner of every piece adds the N ranks' gradients into its
/// accumulator in rank order (communicator.h's reduce with `accumulate`), which continues the
/// sequence j = k·N, k·N + 1, ..., k·N + N − 1. So N ranks × K micro-batches of B give the same
/// gradient, loss, norm and weights, bit for bit, as one process × N·K micro-batches of B.
/// (The cheaper habit of summing the K local micro-batches first and reducing once per step,
/// PyTorch DDP's no_sync, groups the additions differently; it is as correct, and differs in the
/// last bits.) The price is one reduce per micro-batch instead of one per step; with K = 1, the
/// usual setting, there is no difference.
///
/// After the last micro-batch each rank holds the summed gradient of its shard. Then either
///  - plain data parallelism: all-gather the shards (every rank has the whole gradient), scale,
///    clip and update everything with a full AdamW, the same on every rank; or
///  - ZeRO-1 (zero1.h): scale, norm, clip and update the shard, then all-gather the parameters.
///
/// **Overlap.** grads_ready() lets the model report, during backward, that every gradient from
/// some offset to the end of the buffer is final (buckets.h); the buckets it completes start
/// their reduce at once, and later calls poll the ones in flight, so communication runs while
/// backward computes the earlier layers. ranges_ready() starts parts of buckets that are not
/// complete yet: the rows of a tied embedding table (GPT-2's wte, 31% of 124M's buffer, at its
/// start) that no rank's input tokens use are final once the head is done, and go out then; the
/// rows some rank's embedding backward will still add to go with their bucket. Every element is
/// still reduced once per micro-batch, at its owner, in rank order: the same bits.
/// end_micro_batch() starts what is left and waits. DataParallel connects these to the model's
/// set_grad_ready_callback (chapter 05's GPT2 reports after ln_f, after each block and after the
/// embeddings, naming wte until the last report).
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "chapters/06_training/adamw.h"
#include "chapters/06_training/trainable.h"
#include "chapters/06_training/trainer.h"
#include "chapters/11_distributed/buckets.h"
#include "chapters/11_distributed/communicator.h"
#include "chapters/11_distributed/zero1.h"

namespace gpt2 {

/// How the ranks share the work.
struct DataParallelOptions {
  bool zero1 = false;        ///< shard the AdamW moments and the update (zero1.h)
  size_t bucket_floats = 0;  ///< bucket size for overlap (buckets.h); 0: one bucket
  /// The shortest run of an embedding table's final rows sent on its own before its bucket is
  /// complete (ranges_ready); shorter runs between the input tokens' rows wait for the bucket, as
  /// messages of a few kilobytes cost more in latency than they hide.
  size_t min_part_floats = size_t{1} << 14;
};

/// The buckets of a gradient buffer of n floats on `ranks` ranks with these options: aligned to
/// chapter 06's norm chunks with ZeRO-1 (so that sharded_grad_norm is exact).
BucketLayout bucket_layout(size_t n, int ranks, const DataParallelOptions& options);

/// The gradient side of a step: the sum over every rank and micro-batch, in one process's order.
class GradientSync {
 public:
  /// What the overlap did, summed over the micro-batches so far, in floats of the buffer.
  struct Overlap {
    double reduced = 0;        ///< reduced in all (the buffer, once per micro-batch)
    double started_early = 0;  ///< of them, reduced by parts started before everything was final
    double arrived_early = 0;  ///< of them, by parts this rank had finished by then
  };

  /// For a gradient buffer of n floats. The buckets are aligned to chapter 06's norm chunks when
  /// `options.zero1` (so sharded_grad_norm is exact).
  GradientSync(Communicator& comm, size_t n, const DataParallelOptions& options);

  const BucketLayout& layout() const { return layout_; }
  Communicator& comm() { return *comm_; }

  /// Starts a step of K micro-batches on this rank.
  void begin_step(int K);
  /// During backward, optional: every gradient at offset >= first_ready is final for the current
  /// micro-batch. Starts the reduce of the buckets this completes and polls those in flight.
  /// `grads` must stay untouched until end_micro_batch() has returned.
  void grads_ready(std::span<const float> grads, size_t first_ready);
  /// During backward, optional: the gradients in `ranges` (sorted, disjoint, anywhere in the
  /// buffer) are final for the current micro-batch too. Starts the reduce of those parts of the
  /// buckets not complete yet; the rest of each bucket goes when it is complete. Every rank must
  /// report the same ranges at the same point (the collectives must match).
  void ranges_ready(std::span<const float> grads, std::span<const Range> ranges);
  /// After the micro-batch's backward: starts the buckets not started yet and waits for all of
  /// them. Afterwards the gradient buffer may be zeroed for the next micro-batch.
  void end_micro_batch(std::span<const float> grads);
  /// Floats of the last finished micro-batch whose reduce started before everything was final
  /// (reported by ranges_ready, or by grads_ready with first_ready > 0): what could overlap.
  size_t early_floats() const { return last_early_floats_; }
  /// Over every micro-batch so far: how much was started, and how much had arrived, by the time
  /// the whole buffer was final (the model's last report, or end_micro_batch).
  const Overlap& overlap() const { return overlap_; }
  /// This rank's pieces of the sum (BucketLayout::owned(rank) order, one after another), complete
  /// after the last end_micro_batch().
  std::span<float> shard() { return shard_; }
  /// Keeps the sum in `memory` (layout().owned_floats(rank) floats) instead of host memory of its
  /// own: device memory for a communicator that works on device buffers (NCCL).
  void use_accumulator(std::span<float> memory);
  /// grads ← the whole sum on every rank (all-gather of every rank's shard()).
  void gather(std::span<float> grads);

 private:
  Communicator* comm_;
  BucketLayout layout_;
  std::vector<size_t> offset_;   // [buckets] where bucket b's piece starts in acc_
  size_t owned_ = 0;             // floats this rank owns
  std::vector<float> host_acc_;  // the sum's memory unless use_accumulator() gave other memory
  std::span<float> shard_;       // this rank's pieces of the sum
  std::vector<std::unique_ptr<PendingCollective>> in_flight_;  // reduces of the current micro-batch
  std::vector<size_t> part_floats_;                            // [in_flight_] their sizes
  std::vector<std::vector<Range>> left_;  // [buckets] the parts not started yet (ascending)
  int micro_batch_ = 0;                   // micro-batches already added in this step
  size_t started_ = 0;                    // buckets 0 .. started_ - 1 are started completely
  size_t early_floats_ = 0, last_early_floats_ = 0;
  bool all_final_ = false;  // the current micro-batch's whole buffer has been reported final
  Overlap overlap_;

  void start_micro_batch();  // every bucket's whole range left to start
  void start_part(std::span<const float> grads, size_t b, Range part, bool early);
  void poll();
};

/// A data-parallel run's optimizer step: gradient sync and AdamW (full, or sharded with ZeRO-1),
/// on the model's backend with its training operations (chapter 06's training_ops.h), so the
/// same code runs on host memory over MPI and on GPUs over NCCL.
class DataParallel {
 public:
  /// For `model` on this rank; AdamW with `config` and the model's decay ranges. The model's
  /// parameters must already be the same on every rank (same seed, or broadcast_parameters()).
  /// Asks the model to report its final gradients during backward (set_grad_ready_callback), so
  /// that the buckets go out while backward computes; the destructor turns that off again.
  DataParallel(Communicator& comm, TrainableModel& model, const AdamWConfig& config,
               const DataParallelOptions& options = {});
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  /// Rank 0's parameters to every rank.
  void broadcast_parameters();

  /// One optimizer step over this rank's K micro-batches, `next(k, ...)` giving micro-batch k
  /// (global micro-batch k·N + rank): forward and backward of each, the rank-order sum, the mean
  /// over all N·K, clipping to grad_clip (<= 0: none), and AdamW at learning rate lr. Returns the
  /// mean loss over all N·K micro-batches and the norm before clipping: the same on every rank,
  /// and the same bits as one process stepping over the N·K micro-batches by the rule of the file
  /// comment (chapter 06's train_step). Before each micro-batch after the first, `keep_going` is
  /// asked (it must answer the same on every rank); if it says no, the step is abandoned and
  /// nothing changes. A non-finite loss or norm skips the update (StepStatus::kNonFinite).
  StepOutcome step(const MicroBatchSource& next, int B, int T, int K, float lr, float grad_clip,
                   const std::function<bool()>& keep_going = {});
  /// The same with the K micro-batches in arrays (`inputs`, `targets`: K·B·T ids, micro-batch k at
  /// offset k·B·T).
  StepOutcome step(const int* inputs, const int* targets, int B, int T, int K, float lr, float grad_clip);

  /// The whole optimizer state as one process's AdamW would hold it (what a checkpoint stores):
  /// on rank 0; the other ranks get an empty state. With ZeRO-1 the shards' moments are gathered
  /// (through the gradient buffer, which is free between steps), so every rank must call it.
  AdamWState gather_optimizer_state();
  /// Takes this rank's optimizer state from `whole`, the state of the whole buffer (read from a
  /// checkpoint on every rank): all of it, or this rank's shard with ZeRO-1.
  void set_optimizer_state(const AdamWState& whole);

  GradientSync& sync() { return sync_; }
  /// Floats of optimizer state (m and v) held by this rank: 2n, or about 2n/N with ZeRO-1.
  size_t optimizer_floats() const;
  /// The full AdamW (plain data parallelism), or nullptr with ZeRO-1.
  const AdamW* adamw() const { return adamw_.get(); }
  /// The sharded AdamW (ZeRO-1), or nullptr.
  const ShardedAdamW* sharded_adamw() const { return sharded_.get(); }
  /// Seconds this rank's steps spent blocked in collectives: the communication that the overlap
  /// with backward did not hide (and the waits for slower ranks).
  double wait_seconds() const { return wait_seconds_; }

 private:
  Communicator* comm_;
  TrainableModel* model_;
  GradientSync sync_;
  BackendBuffer accumulator_;  // this rank's pieces of the sum, in the backend's memory
  std::unique_ptr<AdamW> adamw_;
  std::unique_ptr<ShardedAdamW> sharded_;
  size_t min_part_floats_;
  bool in_step_ = false;         // backward's reports belong to a step of ours
  const int* inputs_ = nullptr;  // the current micro-batch's B·T input tokens (while in_step_)
  size_t num_inputs_ = 0;
  bool table_sent_ = false;  // this micro-batch's embedding rows reported final are on their way
  double wait_seconds_ = 0;

  // Called by backward's reports (the constructor connects it).
  void on_grads_ready(const GradsReady& ready);
  // The final rows of the reported table: every rank's input tokens gathered, and the runs of
  // rows none of them uses (of at least min_part_floats_ floats).
  std::vector<Range> final_rows(const GradsReady& ready);
};

}  // namespace gpt2
