/// @file zero1.h
/// @brief ZeRO-1: every rank keeps the AdamW moments of its own shard only, and updates only
/// that shard of the parameters.
///
/// Plain data parallelism keeps N identical copies of everything: parameters, gradients and the
/// two AdamW moments m and v, and every rank does the same AdamW update on the same summed
/// gradient. ZeRO stage 1 (Rajbhandari et al., 2020) notices that the update is element-wise:
/// rank r only needs the summed gradient of its shard, updates the parameters of its shard with
/// the moments of its shard, and sends the result to everyone. One step:
///
///  1. reduce the gradients to the owners (the first half of an all-reduce): rank r holds the
///     sum of its shard, the pieces buckets.h's BucketLayout gives it;
///  2. scale by 1/(N·K), take the global gradient norm (sharded_grad_norm) and clip, all on the
///     shard;
///  3. AdamW on the shard (ShardedAdamW): m and v hold only the shard;
///  4. all-gather the parameters: each rank sends its updated pieces to every rank, bucket by
///     bucket, each as soon as this rank's piece of it is updated (the gathers of the first
///     buckets run while AdamW computes the later pieces).
///
/// The traffic per rank is the reduce's (N − 1)/N of the buffer plus the all-gather's (N − 1)/N:
/// exactly an all-reduce's. The memory for m and v drops from 2n floats to 2n/N per rank (GPT-2
/// 124M: 996 MB on one rank, 498 MB each on 2, 124 MB each on 8).
///
/// **The same bits as one process.** The update is element-wise, so doing it shard by shard
/// changes nothing. The norm is a sum, so it needs care: chapter 06 (grad_clip.h) sums the
/// squares in chunks of kNormChunk elements, each chunk in index order, then the chunk sums in
/// chunk order. The shards are aligned to those chunks (every piece starts at a multiple of
/// kNormChunk), so every chunk lies in one shard: its owner computes that chunk's sum exactly as
/// one process would, the ranks exchange their chunk sums, and every rank adds all of them in
/// chunk order. Same additions, same order, same bits.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "chapters/05_gpt2_model/backend.h"
#include "chapters/06_training/adamw.h"
#include "chapters/06_training/training_ops.h"
#include "chapters/11_distributed/buckets.h"
#include "chapters/11_distributed/communicator.h"

namespace gpt2 {

/// AdamW over a shard: a list of ranges of the parameter buffer, whose moments are stored one
/// range after another (m()[0] belongs to parameter shard()[0].begin), in the memory of the
/// model's backend, updated with its training operations (chapter 06's training_ops.h).
class ShardedAdamW {
 public:
  /// `shard`: the ranges this rank owns, in the order its gradients and moments are stored
  /// (BucketLayout::owned(rank)). `decay`: the decay ranges of the whole buffer
  /// (decay_ranges(model.param_infos())). The moments are zeroed memory of `backend`.
  ShardedAdamW(Backend& backend, std::vector<Range> shard, std::vector<ParamRange> decay, AdamWConfig config);

  /// One AdamW step at learning rate lr on the shard's parameters (params is the whole buffer;
  /// only the shard is written) with the shard's gradient `grads` (its ranges one after another,
  /// in the order of shard()); all in the backend's memory. `updated(i)`, if given, is called
  /// once shard()[i]'s parameters are updated (on a device backend: queued), so that their
  /// all-gather can start while the later pieces are computed.
  void step(std::span<float> params, std::span<const float> grads, float lr,
            const std::function<void(size_t piece)>& updated = {});

  const std::vector<Range>& shard() const { return shard_; }
  /// Floats in the shard.
  size_t size() const { return n_; }
  int64_t step_count() const { return step_; }
  /// The moments in the backend's memory (size() floats each), and host copies of them.
  const float* m_memory() const { return m_.floats(); }
  const float* v_memory() const { return v_.floats(); }
  std::vector<float> m() const;
  std::vector<float> v() const;
  /// Replaces the moments (host memory, size() floats each, uploaded) and the step count.
  void set_state(std::span<const float> m, std::span<const float> v, int64_t step);

 private:
  Backend* backend_;
  std::vector<Range> shard_;
  std::vector<ParamRange> decay_;
  AdamWConfig config_;
  size_t n_ = 0;
  BackendBuffer m_, v_;
  int64_t step_ = 0;
};

/// Copies the pieces of `layout` that rank r owns, bucket after bucket (BucketLayout::owned()
/// order), out of a whole buffer into `shard` (layout.owned_floats(r) floats), or back with
/// unshard(). ZeRO-1's bookkeeping in two functions.
void shard_of(const BucketLayout& layout, int r, std::span<const float> whole, std::span<float> shard);
void unshard(const BucketLayout& layout, int r, std::span<const float> shard, std::span<float> whole);

/// The global gradient norm √(Σ g_i²) of the whole summed gradient, computed from the shards:
/// `grads` is this rank's shard (its pieces one after another, in BucketLayout::owned() order), in
/// the memory `ops` works on. The pieces must be aligned to kNormChunk (BucketLayout with align =
/// kNormChunk). Returns exactly ops.grad_norm() of the whole gradient, on every rank.
double sharded_grad_norm(Communicator& comm, const BucketLayout& layout, std::span<const float> grads,
                         TrainingOps& ops);
/// The same for a shard in host memory: exactly chapter 06's grad_norm() of the whole.
double sharded_grad_norm(Communicator& comm, const BucketLayout& layout, std::span<const float> grads);

}  // namespace gpt2
