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

/// The visiting order of one epoch over n items: 0 .. n - 1, or with `shuffle` a random
/// permutation (Fisher-Yates, drawn from `rng`, which it advances). DataLoader orders its windows
/// with it, chapter 10 its examples.
std::vector<int64_t> epoch_order(int64_t n, bool shuffle, Rng& rng);

/// Where train() takes its batches from: a DataLoader over token files (below), or any other source
/// of (B, T) inputs and targets, such as chapter 10's labelled texts and instruction examples.
/// Its whole position is a DataLoaderState (saved in every checkpoint), so a resumed run continues
/// with exactly the batches the uninterrupted run would have seen.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  /// Writes the next batch: inputs and targets, B*T ints each (-1: no target at that position).
  virtual void next_batch(int* inputs, int* targets) = 0;
  /// Back to the start of epoch 0 (validation restarts from there every time).
  virtual void reset() = 0;
  virtual DataLoaderState state() const = 0;
  /// Continues from a saved state; throws if it does not fit this source.
  virtual void set_state(const DataLoaderState& state) = 0;
  virtual int B() const = 0;
  virtual int T() const = 0;
  /// Batches in one pass over the data (validation uses at most this many).
  virtual int64_t batches_per_epoch() const = 0;
  /// For messages (e.g. the file name).
  virtual const std::string& name() const = 0;
};

/// Serves (B, T) batches of a token stream; see the file comment.
class DataLoader : public BatchSource {
 public:
  /// `name` (e.g. the file name) is used in messages. shuffle=false visits windows in order.
  /// Throws gpt2::Error if the stream holds fewer than B windows of T + 1 tokens.
  DataLoader(std::vector<int> tokens, int B, int T, bool shuffle, uint64_t seed, std::string name = "tokens");
  /// A loader over a token file (token_file.h).
  static DataLoader from_file(const std::filesystem::path& path, int B, int T, bool shuffle, uint64_t seed);

  /// Writes the next batch: inputs and targets, B*T ints each (row b is window b).
  void next_batch(int* inputs, int* targets) override;
  /// Back to the start of epoch 0 (as freshly constructed).
  void reset() override;

  DataLoaderState state() const override;
  /// Continues from a saved state; throws if it does not fit this stream.
  void set_state(const DataLoaderState& state) override;

  int B() const override { return B_; }
  int T() const override { return T_; }
  /// W, the number of (T + 1)-token windows.
  int64_t num_windows() const { return num_windows_; }
  /// ⌊W / B⌋.
  int64_t batches_per_epoch() const override { return num_windows_ / B_; }
  const std::vector<int>& tokens() const { return tokens_; }
  const std::string& name() const override { return name_; }

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
