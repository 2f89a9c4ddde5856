/// @file data_loader.h
/// @brief Batches of (input, target) token sequences from a token stream, in a reproducible order.
///
/// The stream of N tokens (a token file, documents separated by `<|endoftext|>`) is cut into
/// W = ⌊(N − 1) / T⌋ windows of T + 1 tokens that overlap by one: window w holds tokens
/// [wT, wT + T]. Its first T tokens are the inputs and its last T the targets (each target is the
/// token after its input: next-token prediction). A batch is B windows, so a (B, T) input array
/// and a (B, T) target array:
///
///   inputs[b, t] = tokens[w_b T + t],     targets[b, t] = tokens[w_b T + t + 1]
///
/// An epoch visits every window once, in order or, with shuffling, in a random permutation drawn
/// at the start of the epoch from the loader's own Rng. The leftover windows (W mod B) are
/// skipped in that epoch. The loader's whole position is three numbers (DataLoaderState): the
/// epoch, the windows consumed in it, and the Rng state the epoch's permutation was drawn from.
/// Saving them in a checkpoint and restoring them continues with exactly the same batches.
///
/// PyTorch: a DataLoader over a Dataset of windows with shuffle=True and a seeded generator.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/rng.h"

namespace gpt2 {

/// Where a DataLoader is in its stream; part of a checkpoint.
struct DataLoaderState {
  int64_t epoch = 0;             ///< completed passes over the data
  int64_t position = 0;          ///< windows consumed in this epoch (a multiple of B)
  uint64_t epoch_rng_state = 0;  ///< Rng state from which this epoch's order was drawn
  bool operator==(const DataLoaderState&) const = default;
};

/// Serves (B, T) batches of a token stream; see the file comment.
class DataLoader {
 public:
  /// `name` (e.g. the file name) is used in messages. shuffle=false visits windows in order.
  /// Throws gpt2::Error if the stream holds fewer than B windows of T + 1 tokens.
  DataLoader(std::vector<int> tokens, int B, int T, bool shuffle, uint64_t seed, std::string name = "tokens");
  /// A loader over a token file (token_file.h).
  static DataLoader from_file(const std::filesystem::path& path, int B, int T, bool shuffle, uint64_t seed);

  /// Writes the next batch: inputs and targets, B*T ints each (row b is window b).
  void next_batch(int* inputs, int* targets);
  /// Back to the start of epoch 0 (as freshly constructed).
  void reset();

  DataLoaderState state() const;
  /// Continues from a saved state; throws if it does not fit this stream.
  void set_state(const DataLoaderState& state);

  int B() const { return B_; }
  int T() const { return T_; }
  /// W, the number of (T + 1)-token windows.
  int64_t num_windows() const { return num_windows_; }
  /// ⌊W / B⌋.
  int64_t batches_per_epoch() const { return num_windows_ / B_; }
  const std::vector<int>& tokens() const { return tokens_; }
  const std::string& name() const { return name_; }

 private:
  void start_epoch();  // draws order_ from rng_ (when shuffling), position_ = 0

  std::vector<int> tokens_;
  int B_, T_;
  bool shuffle_;
  uint64_t seed_;
  std::string name_;
  int64_t num_windows_;
  std::vector<int64_t> order_;  // the windows of this epoch, in visiting order
  Rng rng_;
  int64_t epoch_ = 0, position_ = 0;
  uint64_t epoch_rng_state_ = 0;
};

}  // namespace gpt2
