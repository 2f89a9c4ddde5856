#include "data_loader.h"

#include <numeric>

#include "common/error.h"
#include "token_file.h"

namespace gpt2 {

DataLoader::DataLoader(std::vector<int> tokens, int B, int T, bool shuffle, uint64_t seed, std::string name)
    : tokens_(std::move(tokens)), B_(B), T_(T), shuffle_(shuffle), seed_(seed), name_(std::move(name)) {
  GPT2_CHECK(B > 0 && T > 0, name_, ": batch size and sequence length must be positive, got B=", B, " T=", T);
  num_windows_ = tokens_.size() > 0 ? static_cast<int64_t>((tokens_.size() - 1) / T) : 0;
  GPT2_CHECK(num_windows_ >= B, name_, ": ", tokens_.size(), " tokens hold ", num_windows_,
             " windows of T+1=", T + 1, " tokens, fewer than one batch of B=", B, " (need at least ",
             static_cast<int64_t>(B) * T + 1, " tokens)");
  reset();
}

DataLoader DataLoader::from_file(const std::filesystem::path& path, int B, int T, bool shuffle,
                                 uint64_t seed) {
  std::vector<int32_t> ids = read_token_file(path);
  return DataLoader(std::vector<int>(ids.begin(), ids.end()), B, T, shuffle, seed, path.string());
}

void DataLoader::reset() {
  rng_.seed_with(seed_);
  epoch_ = 0;
  start_epoch();
}

std::vector<int64_t> epoch_order(int64_t n, bool shuffle, Rng& rng) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  if (shuffle) {
    // Fisher-Yates: swap each position with a uniformly chosen one at or before it.
    for (int64_t i = n - 1; i > 0; --i) {
      int64_t j = rng.below(static_cast<uint32_t>(i + 1));
      std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
    }
  }
  return order;
}

void DataLoader::start_epoch() {
  epoch_rng_state_ = rng_.state();
  order_ = epoch_order(num_windows_, shuffle_, rng_);
  position_ = 0;
}

void DataLoader::next_batch(int* inputs, int* targets) {
  if (position_ + B_ > num_windows_) {  // not enough windows left for a whole batch
    ++epoch_;
    start_epoch();
  }
  for (int b = 0; b < B_; ++b) {
    const size_t start = static_cast<size_t>(order_[position_ + b]) * T_;
    for (int t = 0; t < T_; ++t) {
      inputs[static_cast<size_t>(b) * T_ + t] = tokens_[start + t];
      targets[static_cast<size_t>(b) * T_ + t] = tokens_[start + t + 1];
    }
  }
  position_ += B_;
}

DataLoaderState DataLoader::state() const {
  return {epoch_, position_, epoch_rng_state_};
}

void DataLoader::set_state(const DataLoaderState& state) {
  GPT2_CHECK(state.epoch >= 0 && state.position >= 0 && state.position <= num_windows_, name_,
             ": loader state (epoch ", state.epoch, ", position ", state.position,
             ") does not fit a stream of ", num_windows_, " windows");
  rng_.set_state(state.epoch_rng_state);
  epoch_ = state.epoch;
  start_epoch();  // redraws this epoch's order from the saved Rng state
  position_ = state.position;
}

}  // namespace gpt2
