#include "buckets.h"

#include <algorithm>

#include "common/error.h"

namespace gpt2 {

BucketLayout::BucketLayout(size_t n, int ranks, size_t bucket_floats, size_t align) : n_(n), ranks_(ranks) {
  GPT2_CHECK(ranks >= 1, "BucketLayout: ranks must be >= 1, got ", ranks);
  GPT2_CHECK(align >= 1, "BucketLayout: align must be >= 1, got ", align);
  const size_t unit = static_cast<size_t>(ranks) * align;
  bucket_floats_ =
      bucket_floats == 0 || bucket_floats >= n ? std::max<size_t>(n, 1) : round_up(bucket_floats, unit);
  // Cut at multiples of the bucket size from offset 0 (so the pieces are aligned), and list the
  // buckets from the end of the buffer.
  const size_t count = std::max<size_t>(1, (n + bucket_floats_ - 1) / bucket_floats_);
  for (size_t k = count; k-- > 0;) {
    const size_t begin = k * bucket_floats_;
    buckets_.push_back(Partition::split({begin, std::min(n, begin + bucket_floats_)}, ranks, align));
  }
}

size_t BucketLayout::complete_buckets(size_t first_ready) const {
  size_t complete = 0;
  while (complete < buckets_.size() && buckets_[complete].range().begin >= first_ready) ++complete;
  return complete;
}

std::vector<Range> BucketLayout::owned(int r) const {
  std::vector<Range> pieces;
  for (const Partition& b : buckets_) {
    if (!b.piece(r).empty()) pieces.push_back(b.piece(r));
  }
  return pieces;
}

size_t BucketLayout::owned_floats(int r) const {
  size_t total = 0;
  for (const Range& p : owned(r)) total += p.size();
  return total;
}

}  // namespace gpt2
