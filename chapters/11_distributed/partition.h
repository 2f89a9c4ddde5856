/// @file partition.h
/// @brief Who owns which part of a buffer: a range cut into N consecutive pieces, piece r for
/// rank r.
///
/// Every collective of this chapter is about the same picture. The gradient buffer of n floats
/// (chapter 05's one contiguous buffer) is cut into N pieces, one per rank:
///
///     [0 ........ S) [S ....... 2S) ... [(N-1)S ..... n)  ( ...padding... N·S)
///        rank 0         rank 1             rank N-1
///
/// A reduce-scatter leaves on rank r the sum over all ranks of piece r; an all-gather copies each
/// owner's piece to every rank; an all-reduce is the two in a row. ZeRO-1 (zero1.h) keeps the
/// AdamW moments of piece r on rank r only.
///
/// Every piece has the same capacity S = align · ⌈n / (N · align)⌉, so N·S ≥ n: the "padding"
/// N·S − n is where the last pieces fall short (a tiny buffer may even leave the last ranks with
/// empty pieces). Collectives that insist on equal counts (NCCL's ncclReduceScatter, MPI's
/// MPI_Reduce_scatter_block) need the buffer itself padded to N·S; ours move each piece with its
/// own length, so the padding exists only in this bookkeeping. `align` keeps every piece start a
/// multiple of a block size: ZeRO-1 aligns to chapter 06's norm chunk (kNormChunk), so that a
/// rank can compute whole chunks of the gradient norm on its own (zero1.h).
#pragma once

#include <cstddef>
#include <vector>

namespace gpt2 {

/// A half-open range [begin, end) of buffer offsets, in floats.
struct Range {
  size_t begin = 0;  ///< first offset
  size_t end = 0;    ///< one past the last offset
  size_t size() const { return end - begin; }
  bool empty() const { return end == begin; }
  bool operator==(const Range&) const = default;
};

/// A range cut into `ranks()` consecutive pieces; rank r owns piece(r).
class Partition {
 public:
  Partition() = default;
  /// `range` cut into `ranks` pieces of capacity S = align · ⌈size / (ranks · align)⌉ each,
  /// piece r = [begin + r·S, begin + (r+1)·S) clipped to the range (so the last pieces may be
  /// short or empty). Throws gpt2::Error if ranks < 1 or align < 1.
  static Partition split(Range range, int ranks, size_t align = 1);

  int ranks() const { return static_cast<int>(bounds_.size()) - 1; }
  /// The whole range.
  Range range() const { return {bounds_.front(), bounds_.back()}; }
  /// Rank r's piece.
  Range piece(int r) const { return {bounds_[r], bounds_[r + 1]}; }
  /// S, the capacity of every piece: ranks()·S - range().size() floats are padding.
  size_t piece_capacity() const { return capacity_; }
  /// The largest piece (what a rank must be ready to receive for any other rank's piece).
  size_t largest_piece() const;
  /// The same owners for a part of the range: piece r is piece(r) ∩ `part` (so most pieces may
  /// be empty), with this partition's piece_capacity(). `part` must lie within range(). A
  /// bucket's reduce can go out in parts this way, each element still summed at its owner.
  Partition within(Range part) const;

 private:
  std::vector<size_t> bounds_{0, 0};  // ranks + 1 offsets: piece r is [bounds_[r], bounds_[r + 1])
  size_t capacity_ = 0;
};

/// x rounded up to a multiple of m (m > 0).
inline size_t round_up(size_t x, size_t m) {
  return (x + m - 1) / m * m;
}

}  // namespace gpt2
