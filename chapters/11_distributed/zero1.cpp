#include "zero1.h"

#include <algorithm>
#include <cmath>

#include "chapters/06_training/grad_clip.h"
#include "common/error.h"

namespace gpt2 {

ShardedAdamW::ShardedAdamW(std::vector<Range> shard, std::vector<ParamRange> decay, AdamWConfig config)
    : shard_(std::move(shard)), decay_(std::move(decay)), config_(config) {
  size_t n = 0;
  for (const Range& r : shard_) n += r.size();
  m_.assign(n, 0.0f);
  v_.assign(n, 0.0f);
}

void ShardedAdamW::step(std::span<float> params, std::span<const float> grads, float lr) {
  GPT2_CHECK(grads.size() == m_.size(), "ShardedAdamW::step: the shard has ", m_.size(), " floats, got ",
             grads.size(), " gradients");
  ++step_;
  size_t at = 0;  // where the current range's gradients and moments start
  for (const Range& piece : shard_) {
    GPT2_CHECK(piece.end <= params.size(), "ShardedAdamW::step: the shard reaches offset ", piece.end,
               ", the parameter buffer has ", params.size());
    // The piece may cross tensors with and without weight decay: one update per overlap.
    for (const ParamRange& d : decay_) {
      const size_t begin = std::max(piece.begin, d.offset), end = std::min(piece.end, d.offset + d.size);
      if (begin >= end) continue;
      const size_t k = at + (begin - piece.begin);
      adamw_update(params.data() + begin, grads.data() + k, m_.data() + k, v_.data() + k, end - begin, step_,
                   lr, config_.beta1, config_.beta2, config_.eps, d.decay ? config_.weight_decay : 0.0f);
    }
    at += piece.size();
  }
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
  const int me = comm.rank();
  GPT2_CHECK(layout.ranks() == comm.size(), "sharded_grad_norm: the layout is for ", layout.ranks(),
             " ranks, the job has ", comm.size());
  GPT2_CHECK(grads.size() == layout.owned_floats(me), "sharded_grad_norm: rank ", me, " owns ",
             layout.owned_floats(me), " floats, got ", grads.size());
  const size_t n = layout.size(), chunks = (n + kNormChunk - 1) / kNormChunk;

  // The sums of the chunks in my pieces, each exactly as grad_norm() computes it: in double, in
  // index order. Every other chunk is 0 here.
  std::vector<double> partial(chunks, 0.0);
  size_t at = 0;
  for (const Range& p : layout.owned(me)) {
    GPT2_CHECK(p.begin % kNormChunk == 0 && (p.end % kNormChunk == 0 || p.end == n),
               "sharded_grad_norm: piece [", p.begin, ", ", p.end,
               ") is not aligned to the norm's chunks of ", kNormChunk,
               " (build the BucketLayout with align = kNormChunk)");
    for (size_t c = p.begin / kNormChunk; c * kNormChunk < p.end; ++c) {
      const size_t begin = c * kNormChunk, end = std::min(p.end, begin + kNormChunk);
      const float* g = grads.data() + at + (begin - p.begin);
      double sum = 0.0;
      for (size_t i = 0; i < end - begin; ++i) sum += static_cast<double>(g[i]) * g[i];
      partial[c] = sum;
    }
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
