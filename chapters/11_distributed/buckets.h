/// @file buckets.h
/// @brief The gradient buffer cut into buckets, so that reducing the last layers' gradients can
/// start while backward is still computing the first layers'.
///
/// Backward runs from the loss back to the input: the gradients of ln_f come first, then block
/// L−1, ..., block 0, and last the embeddings (wte also receives the head's gradient at the very
/// start, but its sum is only complete after the encoder). In chapter 05's buffer layout (wte,
/// wpe, h.0, ..., h.L−1, ln_f) that means: the final gradients fill the buffer **from its end
/// towards its start**. After block l's backward every gradient at an offset at or above the
/// start of block l is final. The model reports that boundary ("first_ready") and nothing else.
///
/// The buffer is cut at multiples of a bucket size; bucket 0 is the one at the END of the buffer
/// (backward finishes it first), bucket num_buckets() − 1 starts at offset 0. A bucket can be
/// reduced as soon as first_ready has passed its start. Each bucket is split among the ranks
/// (Partition::split), so every rank reduces 1/N of every bucket and all links carry equal
/// traffic all the time; the pieces a rank owns, over all buckets, are its shard (what ZeRO-1
/// updates, zero1.h). With one bucket (bucket size 0) the shard is the classic one contiguous
/// 1/N slice of the buffer.
///
/// Buckets change when the additions happen, never which additions: each element is still the
/// rank-order sum of communicator.h, so the result is the same bits whatever the bucket size and
/// whatever the timing. (PyTorch's DDP buckets by parameter tensors in reverse order, 25 MB each;
/// llm.c reduces the whole buffer after backward.)
#pragma once

#include <cstddef>
#include <vector>

#include "chapters/11_distributed/partition.h"

namespace gpt2 {

class BucketLayout {
 public:
  /// A buffer of n floats for `ranks` ranks. bucket_floats is the target size of one bucket (0:
  /// one bucket for the whole buffer); it is rounded up to a multiple of ranks · align, so that
  /// every piece of every bucket starts at a multiple of align.
  BucketLayout(size_t n, int ranks, size_t bucket_floats = 0, size_t align = 1);

  size_t size() const { return n_; }
  int ranks() const { return ranks_; }
  /// The rounded bucket size (n when there is one bucket).
  size_t bucket_floats() const { return bucket_floats_; }
  size_t num_buckets() const { return buckets_.size(); }
  /// Bucket b split among the ranks; b = 0 is the last range of the buffer.
  const Partition& bucket(size_t b) const { return buckets_[b]; }

  /// How many buckets are complete (buckets 0 .. result − 1) once every gradient at offset
  /// >= first_ready is final.
  size_t complete_buckets(size_t first_ready) const;

  /// Rank r's piece of every bucket, in bucket order (empty pieces left out): its shard.
  std::vector<Range> owned(int r) const;
  /// The number of floats rank r owns.
  size_t owned_floats(int r) const;

 private:
  size_t n_;
  int ranks_;
  size_t bucket_floats_;
  std::vector<Partition> buckets_;
};

}  // namespace gpt2
