#include "zero1.h"

#include <algorithm>
#include <cmath>

#include "chapters/06_training/grad_clip.h"
#include "common/error.h"

namespace gpt2 {

ShardedAdamW::ShardedAdamW(Backend& backend, std::vector<Range> shard, std::vector<ParamRange> decay,
                           AdamWConfig config)
    : backend_(&backend), shard_(std::move(shard)), decay_(std::move(decay)), config_(config) {
  for (const Range& r : shard_) n_ += r.size();
  m_ = BackendBuffer(backend, n_ * sizeof(float));  // zeroed: the moments start at 0
  v_ = BackendBuffer(backend, n_ * sizeof(float));
}

void ShardedAdamW::step(std::span<float> params, std::span<const float> grads, float lr,
                        const std::function<void(size_t piece)>& updated) {
  GPT2_CHECK(grads.size() == n_, "ShardedAdamW::step: the shard has ", n_, " floats, got ", grads.size(),
             " gradients");
  ++step_;
  TrainingOps& ops = training_ops(*backend_);
  size_t at = 0;  // where the current range's gradients and moments start
  for (size_t i = 0; i < shard_.size(); ++i) {
    const Range& piece = shard_[i];
    GPT2_CHECK(piece.end <= params.size(), "ShardedAdamW::step: the shard reaches offset ", piece.end,
               ", the parameter buffer has ", params.size());
    // The piece may cross tensors with and without weight decay: one update per overlap.
    for (const ParamRange& d : decay_) {
      const size_t begin = std::max(piece.begin, d.offset), end = std::min(piece.end, d.offset + d.size);
      if (begin >= end) continue;
      const size_t k = at + (begin - piece.begin);
      ops.adamw_update(params.data() + begin, grads.data() + k, m_.floats() + k, v_.floats() + k, end - begin,
                       step_, lr, config_.beta1, config_.beta2, config_.eps,
                       d.decay ? config_.weight_decay : 0.0f);
    }
    at += piece.size();
    if (updated) updated(i);
  }
}

std::vector<float> ShardedAdamW::m() const {
  return to_host(*backend_, m_.floats(), n_);
}

std::vector<float> ShardedAdamW::v() const {
  return to_host(*backend_, v_.floats(), n_);
}

void ShardedAdamW::set_state(std::span<const float> m, std::span<const float> v, int64_t step) {
  GPT2_CHECK(m.size() == n_ && v.size() == n_ && step >= 0, "ShardedAdamW::set_state: the shard has ", n_,
             " floats, got moments of ", m.size(), " and ", v.size(), " and step ", step);
  if (n_ > 0) {  // a rank may own nothing (a tiny model on many ranks): no copy from null
    backend_->copy_to_device(m_.floats(), m.data(), n_ * sizeof(float));
    backend_->copy_to_device(v_.floats(), v.data(), n_ * sizeof(float));
  }
  step_ = step;
}

void shard_of(const BucketLayout& layout, int r, std::span<const float> whole, std::span<float> shard) {
  GPT2_CHECK(whole.size() == layout.size() && shard.size() == layout.owned_floats(r), "shard_of: expected ",
             layout.size(), " and ", layout.owned_floats(r), " floats, got ", whole.size(), " and ",
             shard.size());
  size_t at = 0;
  for (const Range& p : layout.owned(r)) {
    std::copy(whole.begin() + p.begin, whole.begin() + p.end, shard.begin() + at);
    at += p.size();
  }
}

void unshard(const BucketLayout& layout, int r, std::span<const float> shard, std::span<float> whole) {
  GPT2_CHECK(whole.size() == layout.size() && shard.size() == layout.owned_floats(r), "unshard: expected ",
             layout.owned_floats(r), " and ", layout.size(), " floats, got ", shard.size(), " and ",
             whole.size());
  size_t at = 0;
  for (const Range& p : layout.owned(r)) {
    std::copy(shard.begin() + at, shard.begin() + at + p.size(), whole.begin() + p.begin);
    at += p.size();
  }
}

double sharded_grad_norm(Communicator& comm, const BucketLayout& layout, std::span<const float> grads) {
  PlainTrainingOps plain;
  return sharded_grad_norm(comm, layout, grads, plain);
}

double sharded_grad_norm(Communicator& comm, const BucketLayout& layout, std::span<const float> grads,
                         TrainingOps& ops) {
  const int me = comm.rank();
  GPT2_CHECK(layout.ranks() == comm.size(), "sharded_grad_norm: the layout is for ", layout.ranks(),
             " ranks, the job has ", comm.size());
  GPT2_CHECK(grads.size() == layout.owned_floats(me), "sharded_grad_norm: rank ", me, " owns ",
             layout.owned_floats(me), " floats, got ", grads.size());
  const size_t n = layout.size(), chunks = (n + kNormChunk - 1) / kNormChunk;

  // The sums of the chunks in my pieces, each exactly as the backend's grad_norm() computes it
  // (sum_squares_chunks: a piece starts on a chunk boundary, so its chunks are the whole
  // buffer's). Every other chunk is 0 here.
  std::vector<double> partial(chunks, 0.0);
  size_t at = 0;
  for (const Range& p : layout.owned(me)) {
    GPT2_CHECK(p.begin % kNormChunk == 0 && (p.end % kNormChunk == 0 || p.end == n),
               "sharded_grad_norm: piece [", p.begin, ", ", p.end,
               ") is not aligned to the norm's chunks of ", kNormChunk,
               " (build the BucketLayout with align = kNormChunk)");
    ops.sum_squares_chunks(grads.data() + at, p.size(), partial.data() + p.begin / kNormChunk);
    at += p.size();
  }

  // Every rank's chunk sums; each chunk is taken from the rank that owns it, then all are added
  // in chunk order, as grad_norm() adds them.
  const std::vector<double> all = comm.all_gather_values<double>(partial);
  std::vector<int> owner(chunks, 0);
  for (int r = 0; r < layout.ranks(); ++r) {
    for (const Range& p : layout.owned(r)) {
      for (size_t c = p.begin / kNormChunk; c * kNormChunk < p.end; ++c) owner[c] = r;
    }
  }
  double total = 0.0;
  for (size_t c = 0; c < chunks; ++c) total += all[static_cast<size_t>(owner[c]) * chunks + c];
  return std::sqrt(total);
}

}  // namespace gpt2
