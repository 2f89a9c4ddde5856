// Batch sources of examples for chapter 06's train(): see finetune_batches.h.
#include "chapters/10_finetuning/finetune_batches.h"

#include <algorithm>

#include "common/error.h"

namespace gpt2 {

ExampleBatches::ExampleBatches(int64_t num_examples, int B, int T, bool shuffle, uint64_t seed,
                               std::string name)
    : n_(num_examples), B_(B), T_(T), shuffle_(shuffle), seed_(seed), name_(std::move(name)) {
  GPT2_CHECK(B > 0 && T > 0, name_, ": batch size and sequence length must be positive, got B=", B, " T=", T);
  GPT2_CHECK(n_ > 0, name_, ": no examples");
}

void ExampleBatches::start() {
  reset();
  first_epoch_batches_ = static_cast<int64_t>(batches_.size());
}

void ExampleBatches::start_epoch() {
  epoch_rng_state_ = rng_.state();
  batches_ = make_batches(epoch_order(n_, shuffle_, rng_));
  position_ = 0;
}

void ExampleBatches::reset() {
  rng_.seed_with(seed_);
  epoch_ = 0;
  start_epoch();
}

int64_t ExampleBatches::batches_per_epoch() const {
  return first_epoch_batches_;
}

void ExampleBatches::next_batch(int* inputs, int* targets) {
  if (position_ == static_cast<int64_t>(batches_.size())) {
    ++epoch_;
    start_epoch();
  }
  const Batch& b = batches_[static_cast<size_t>(position_++)];
  std::copy(b.tokens.begin(), b.tokens.end(), inputs);
  std::copy(b.targets.begin(), b.targets.end(), targets);
}

DataLoaderState ExampleBatches::state() const {
  return {epoch_, position_, epoch_rng_state_};
}

void ExampleBatches::set_state(const DataLoaderState& state) {
  rng_.set_state(state.epoch_rng_state);
  const DataLoaderState before{epoch_, position_, epoch_rng_state_};
  epoch_ = state.epoch;
  start_epoch();  // redraws that epoch's order and batches from the saved Rng state
  if (state.epoch < 0 || state.position < 0 || state.position > static_cast<int64_t>(batches_.size())) {
    rng_.set_state(before.epoch_rng_state);
    epoch_ = before.epoch;
    start_epoch();
    position_ = before.position;
    fail(name_, ": loader state (epoch ", state.epoch, ", position ", state.position,
         ") does not fit these examples");
  }
  position_ = state.position;
}

ClassificationBatches::ClassificationBatches(std::vector<EncodedText> texts, int B, int T, bool shuffle,
                                             uint64_t seed, int pad_id, std::string name)
    : ExampleBatches(static_cast<int64_t>(texts.size()), B, T, shuffle, seed, std::move(name)),
      texts_(std::move(texts)),
      pad_id_(pad_id) {
  start();
}

std::vector<ExampleBatches::Batch> ClassificationBatches::make_batches(
    const std::vector<int64_t>& order) const {
  std::vector<EncodedText> ordered;
  for (int64_t i : order) ordered.push_back(texts_[static_cast<size_t>(i)]);
  std::vector<Batch> out;
  for (const ClassificationBatch& c : make_classification_batches(ordered, B(), T(), pad_id_)) {
    Batch b{c.tokens, std::vector<int>(c.tokens.size(), -1)};
    for (int r = 0; r < c.num_examples; ++r)
      b.targets[static_cast<size_t>(r) * T() + c.last[r]] = c.labels[r];
    out.push_back(std::move(b));
  }
  return out;
}

SftBatches::SftBatches(std::vector<SftExample> examples, int B, int T, SftLayout layout, bool shuffle,
                       uint64_t seed, int pad_id, std::string name)
    : ExampleBatches(static_cast<int64_t>(examples.size()), B, T, shuffle, seed, std::move(name)),
      examples_(std::move(examples)),
      layout_(layout),
      pad_id_(pad_id) {
  start();
}

std::vector<ExampleBatches::Batch> SftBatches::make_batches(const std::vector<int64_t>& order) const {
  std::vector<SftExample> ordered;
  for (int64_t i : order) ordered.push_back(examples_[static_cast<size_t>(i)]);
  std::vector<Batch> out;
  for (SftBatch& s : make_sft_batches(ordered, B(), T(), layout_, pad_id_))
    out.push_back({std::move(s.tokens), std::move(s.targets)});
  return out;
}

void classification_rows(const int* targets, int B, int T, int* last, int* labels) {
  for (int b = 0; b < B; ++b) {
    last[b] = 0;
    labels[b] = -1;
    for (int t = 0; t < T; ++t) {
      const int y = targets[static_cast<size_t>(b) * T + t];
      if (y < 0) continue;
      GPT2_CHECK(labels[b] < 0, "classification batch: row ", b, " has more than one target");
      last[b] = t;
      labels[b] = y;
    }
  }
}

}  // namespace gpt2
