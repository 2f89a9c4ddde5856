/// @file finetune_batches.h
/// @brief Labelled texts and instruction examples as batches for chapter 06's train(): batch
/// sources in a shuffled, resumable order.
///
/// train() reads (B, T) inputs and targets from a BatchSource (chapter 06's data_loader.h). These
/// two fill them from examples instead of a token file:
///
///  - ClassificationBatches: one text per row from position 0 (classification_batch.h), and the
///    row's label as the target of its last position, -1 everywhere else. So "the positions with
///    a target" are the texts, and chapter 06's weighting of micro-batches by their numbers of
///    targets weighs them by their numbers of texts. (sequence_classifier.h reads the label and the
///    position back from the targets.)
///  - SftBatches: examples padded or packed into rows (sft_batch.h), targets only on the
///    assistant's tokens.
///
/// An epoch visits the examples in an order drawn like DataLoader's (epoch_order: Fisher-Yates
/// from the source's own Rng), and puts them into batches in that order; the last batch of an
/// epoch may hold fewer examples (the rest of it padding, targets -1). The position is (epoch,
/// batches consumed in it, the Rng state the epoch's order was drawn from): a DataLoaderState, so
/// a checkpoint stores it and a resumed run gets exactly the batches the uninterrupted run got.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "chapters/06_training/data_loader.h"
#include "chapters/10_finetuning/classification_batch.h"
#include "chapters/10_finetuning/sft_batch.h"
#include "common/rng.h"

namespace gpt2 {

/// What the two sources share: the epoch's order, its batches, the position.
class ExampleBatches : public BatchSource {
 public:
  void next_batch(int* inputs, int* targets) override;
  void reset() override;
  DataLoaderState state() const override;
  void set_state(const DataLoaderState& state) override;
  int B() const override { return B_; }
  int T() const override { return T_; }
  /// The batches of epoch 0 (unshuffled sources: of every epoch).
  int64_t batches_per_epoch() const override;
  const std::string& name() const override { return name_; }

 protected:
  ExampleBatches(int64_t num_examples, int B, int T, bool shuffle, uint64_t seed, std::string name);
  /// One batch: tokens and targets, (B, T) each.
  struct Batch {
    std::vector<int> tokens, targets;
  };
  /// The batches of the examples in `order` (a permutation of 0 .. num_examples - 1).
  virtual std::vector<Batch> make_batches(const std::vector<int64_t>& order) const = 0;
  /// Call at the end of the derived constructor, once make_batches() works.
  void start();

 private:
  void start_epoch();
  int64_t n_;
  int B_, T_;
  bool shuffle_;
  uint64_t seed_;
  std::string name_;
  Rng rng_;
  int64_t epoch_ = 0, position_ = 0;
  uint64_t epoch_rng_state_ = 0;
  std::vector<Batch> batches_;  // this epoch's
  int64_t first_epoch_batches_ = 0;
};

/// Labelled texts, one per row, the label as the last position's target (see the file comment).
class ClassificationBatches : public ExampleBatches {
 public:
  /// `texts` each at most T tokens with a label (encode_labeled_text); `pad_id` fills the rows.
  ClassificationBatches(std::vector<EncodedText> texts, int B, int T, bool shuffle, uint64_t seed, int pad_id,
                        std::string name);

 private:
  std::vector<Batch> make_batches(const std::vector<int64_t>& order) const override;
  std::vector<EncodedText> texts_;
  int pad_id_;
};

/// Instruction examples, padded or packed into rows, targets on the assistant's tokens.
class SftBatches : public ExampleBatches {
 public:
  /// `examples` each at most T tokens (drop_long_examples first).
  SftBatches(std::vector<SftExample> examples, int B, int T, SftLayout layout, bool shuffle, uint64_t seed,
             int pad_id, std::string name);

 private:
  std::vector<Batch> make_batches(const std::vector<int64_t>& order) const override;
  std::vector<SftExample> examples_;
  SftLayout layout_;
  int pad_id_;
};

/// The labels and the last positions that ClassificationBatches' targets (B, T) encode: for each
/// row, the position of its one target and the target, or (0, -1) for a row without one. Throws
/// if a row has more than one target (these are not a classifier's batches).
void classification_rows(const int* targets, int B, int T, int* last, int* labels);

}  // namespace gpt2
