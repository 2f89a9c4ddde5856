#include "partition.h"

#include <algorithm>

#include "common/error.h"

namespace gpt2 {

Partition Partition::split(Range range, int ranks, size_t align) {
  GPT2_CHECK(ranks >= 1, "Partition::split: ranks must be >= 1, got ", ranks);
  GPT2_CHECK(align >= 1, "Partition::split: align must be >= 1, got ", align);
  GPT2_CHECK(range.begin <= range.end, "Partition::split: range [", range.begin, ", ", range.end,
             ") is reversed");
  Partition p;
  const size_t n = static_cast<size_t>(ranks);
  p.capacity_ = round_up((range.size() + n - 1) / n, align);
  p.bounds_.resize(n + 1);
  for (size_t r = 0; r <= n; ++r) p.bounds_[r] = std::min(range.end, range.begin + r * p.capacity_);
  return p;
}

size_t Partition::largest_piece() const {
  size_t largest = 0;
  for (int r = 0; r < ranks(); ++r) largest = std::max(largest, piece(r).size());
  return largest;
}

Partition Partition::within(Range part) const {
  GPT2_CHECK(part.begin <= part.end && part.begin >= bounds_.front() && part.end <= bounds_.back(),
             "Partition::within: [", part.begin, ", ", part.end, ") is not within [", bounds_.front(), ", ",
             bounds_.back(), ")");
  Partition p;
  p.capacity_ = capacity_;
  p.bounds_.resize(bounds_.size());
  for (size_t r = 0; r < bounds_.size(); ++r) p.bounds_[r] = std::clamp(bounds_[r], part.begin, part.end);
  return p;
}

}  // namespace gpt2
