#include "data_parallel.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "chapters/06_training/grad_clip.h"
#include "chapters/06_training/training_ops.h"
#include "common/error.h"

namespace gpt2 {

// ----- GradientSync ----------------------------------------------------------------------------

BucketLayout bucket_layout(size_t n, int ranks, const DataParallelOptions& options) {
  return BucketLayout(n, ranks, options.bucket_floats, options.zero1 ? kNormChunk : 1);
}

GradientSync::GradientSync(Communicator& comm, size_t n, const DataParallelOptions& options)
    : comm_(&comm), layout_(bucket_layout(n, comm.size(), options)) {
  size_t at = 0;
  for (size_t b = 0; b < layout_.num_buckets(); ++b) {
    offset_.push_back(at);
    at += layout_.bucket(b).piece(comm.rank()).size();
  }
  owned_ = at;
  start_micro_batch();
}

void GradientSync::use_accumulator(std::span<float> memory) {
  GPT2_CHECK(memory.size() == owned_, "GradientSync::use_accumulator: rank ", comm_->rank(), " owns ", owned_,
             " floats, the memory given has ", memory.size());
  shard_ = memory;
  host_acc_ = {};
}

void GradientSync::begin_step(int K) {
  GPT2_CHECK(K >= 1, "GradientSync::begin_step: K must be >= 1, got ", K);
  if (shard_.size() != owned_) {  // no memory given (use_accumulator): host memory of our own
    host_acc_.assign(owned_, 0.0f);
    shard_ = host_acc_;
  }
  micro_batch_ = 0;
  start_micro_batch();
}

void GradientSync::start_micro_batch() {
  left_.assign(layout_.num_buckets(), {});
  for (size_t b = 0; b < layout_.num_buckets(); ++b) {
    if (!layout_.bucket(b).range().empty()) left_[b].push_back(layout_.bucket(b).range());
  }
  in_flight_.clear();
  part_floats_.clear();
  started_ = 0;
  early_floats_ = 0;
  all_final_ = false;
}

void GradientSync::start_part(std::span<const float> grads, size_t b, Range part, bool early) {
  // The part keeps the bucket's owners: rank r reduces part ∩ (its piece of the bucket), into
  // the place of those elements in its accumulator.
  const Partition& bucket = layout_.bucket(b);
  const Partition pieces = bucket.within(part);
  const Range mine = pieces.piece(comm_->rank()), whole = bucket.piece(comm_->rank());
  float* acc = shard_.data() + offset_[b] + (mine.empty() ? 0 : mine.begin - whole.begin);
  // The first micro-batch of a step starts each sum afresh; later ones add to it (the rule).
  in_flight_.push_back(comm_->start_reduce(grads.data(), pieces, acc, /*accumulate=*/micro_batch_ > 0));
  part_floats_.push_back(part.size());
  if (early) early_floats_ += part.size();
}

void GradientSync::poll() {
  // Give the reduces in flight a chance to move on (MPI progresses only inside MPI calls).
  for (auto& pending : in_flight_) {
    if (pending && pending->test()) pending.reset();
  }
}

void GradientSync::grads_ready(std::span<const float> grads, size_t first_ready) {
  GPT2_CHECK(grads.size() == layout_.size(), "GradientSync: the gradient buffer has ", grads.size(),
             " floats, the layout ", layout_.size());
  if (first_ready == 0 && !all_final_) {  // everything is final: what has arrived meanwhile?
    all_final_ = true;
    poll();
    for (size_t i = 0; i < in_flight_.size(); ++i) {
      if (!in_flight_[i]) overlap_.arrived_early += static_cast<double>(part_floats_[i]);
    }
    overlap_.started_early += static_cast<double>(early_floats_);
    overlap_.reduced += static_cast<double>(layout_.size());
  }
  const size_t complete = layout_.complete_buckets(first_ready);
  for (; started_ < complete; ++started_) {
    for (const Range& part : left_[started_]) start_part(grads, started_, part, first_ready > 0);
    left_[started_].clear();
  }
  poll();
}

void GradientSync::ranges_ready(std::span<const float> grads, std::span<const Range> ranges) {
  GPT2_CHECK(grads.size() == layout_.size(), "GradientSync: the gradient buffer has ", grads.size(),
             " floats, the layout ", layout_.size());
  for (size_t i = 0; i < ranges.size(); ++i) {
    GPT2_CHECK(ranges[i].begin <= ranges[i].end && ranges[i].end <= layout_.size() &&
                   (i == 0 || ranges[i - 1].end <= ranges[i].begin),
               "GradientSync::ranges_ready: range ", i, " [", ranges[i].begin, ", ", ranges[i].end,
               ") is reversed, outside the buffer of ", layout_.size(),
               " floats, or not after the one before");
  }
  // Cut the parts not started yet of every incomplete bucket: what the ranges cover goes now.
  for (size_t b = started_; b < layout_.num_buckets(); ++b) {
    std::vector<Range> rest;
    for (const Range& part : left_[b]) {
      size_t at = part.begin;
      auto r = std::upper_bound(ranges.begin(), ranges.end(), at,
                                [](size_t offset, const Range& range) { return offset < range.end; });
      for (; r != ranges.end() && r->begin < part.end; ++r) {
        const size_t lo = std::max(r->begin, at), hi = std::min(r->end, part.end);
        if (lo >= hi) continue;
        if (at < lo) rest.push_back({at, lo});
        start_part(grads, b, {lo, hi}, /*early=*/true);
        at = hi;
      }
      if (at < part.end) rest.push_back({at, part.end});
    }
    left_[b] = std::move(rest);
  }
  poll();
}

void GradientSync::end_micro_batch(std::span<const float> grads) {
  grads_ready(grads, 0);  // whatever backward did not report: everything is final now
  for (auto& pending : in_flight_) {
    if (pending) pending->wait();
  }
  ++micro_batch_;
  last_early_floats_ = early_floats_;
  start_micro_batch();
}

void GradientSync::gather(std::span<float> grads) {
  GPT2_CHECK(grads.size() == layout_.size(), "GradientSync::gather: the gradient buffer has ", grads.size(),
             " floats, the layout ", layout_.size());
  std::vector<std::unique_ptr<PendingCollective>> gathers;
  for (size_t b = 0; b < layout_.num_buckets(); ++b) {
    gathers.push_back(comm_->start_all_gather(grads.data(), layout_.bucket(b), shard_.data() + offset_[b]));
  }
  for (auto& g : gathers) g->wait();
}

// ----- DataParallel ----------------------------------------------------------------------------

namespace {

// Seconds on a steady clock, for the time spent waiting.
double seconds_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

DataParallel::DataParallel(Communicator& comm, TrainableModel& model, const AdamWConfig& config,
                           const DataParallelOptions& options)
    : comm_(&comm),
      model_(&model),
      sync_(comm, model.grads().size(), options),
      min_part_floats_(options.min_part_floats) {
  GPT2_CHECK(model.params().size() == model.grads().size(), "DataParallel: ", model.params().size(),
             " parameters but ", model.grads().size(), " gradients");
  Backend& backend = model.backend();
  GPT2_CHECK(comm.device_memory() == !backend.host_memory(), "DataParallel on ", comm.where(),
             ": the model is on '", backend.name(), "' (", backend.host_memory() ? "host" : "device",
             " memory) but the communicator works on ", comm.device_memory() ? "device" : "host",
             " memory; a model on a GPU needs the NCCL communicator, one on the CPU the MPI one");
  // The sum of this rank's pieces lives where the gradients do.
  accumulator_ = BackendBuffer(backend, sync_.layout().owned_floats(comm.rank()) * sizeof(float));
  sync_.use_accumulator({accumulator_.floats(), sync_.layout().owned_floats(comm.rank())});
  std::vector<ParamRange> decay = decay_ranges(model.param_infos());
  if (options.zero1) {
    sharded_ =
        std::make_unique<ShardedAdamW>(backend, sync_.layout().owned(comm.rank()), std::move(decay), config);
  } else {
    adamw_ = std::make_unique<AdamW>(backend, model.params().size(), std::move(decay), config);
  }
  // Overlap: the gradients backward has finished start their reduce at once.
  model.set_grad_ready_callback([this](const GradsReady& ready) { on_grads_ready(ready); });
}

void DataParallel::on_grads_ready(const GradsReady& ready) {
  if (!in_step_) return;
  // Once per micro-batch (every rank hears the same reports), and only with buckets: one bucket
  // means no overlap, everything sent once backward is done.
  if (ready.table_rows > 0 && !table_sent_ && sync_.layout().num_buckets() > 1) {
    table_sent_ = true;
    const std::vector<Range> rows = final_rows(ready);
    sync_.ranges_ready(model_->grads(), rows);
  }
  sync_.grads_ready(model_->grads(), ready.first_ready);
}

std::vector<Range> DataParallel::final_rows(const GradsReady& ready) {
  // A row is final on every rank unless some rank's embedding backward adds to it: the union of
  // the ranks' input tokens. Those rows (and short runs between them) go with their bucket.
  std::vector<int> all;
  const double start = seconds_now();
  all = comm_->all_gather_values<int>(std::span<const int>(inputs_, num_inputs_));
  wait_seconds_ += seconds_now() - start;
  std::vector<bool> late(ready.table_rows, false);
  for (int id : all) {
    GPT2_CHECK(id >= 0 && static_cast<size_t>(id) < ready.table_rows, "DataParallel: input token ", id,
               " is not a row of the embedding table of ", ready.table_rows, " rows");
    late[static_cast<size_t>(id)] = true;
  }
  const size_t min_rows = std::max<size_t>(1, (min_part_floats_ + ready.row_floats - 1) / ready.row_floats);
  std::vector<Range> ranges;
  for (size_t row = 0; row < ready.table_rows;) {
    if (late[row]) {
      ++row;
      continue;
    }
    const size_t first = row;
    while (row < ready.table_rows && !late[row]) ++row;
    if (row - first >= min_rows) {
      ranges.push_back({ready.table + first * ready.row_floats, ready.table + row * ready.row_floats});
    }
  }
  return ranges;
}

DataParallel::~DataParallel() {
  model_->set_grad_ready_callback({});
}

void DataParallel::broadcast_parameters() {
  std::span<float> params = model_->params();
  comm_->broadcast(params.data(), params.size(), 0);
}

size_t DataParallel::optimizer_floats() const {
  return 2 * (sharded_ ? sharded_->size() : model_->params().size());
}

StepOutcome DataParallel::step(const int* inputs, const int* targets, int B, int T, int K, float lr,
                               float grad_clip) {
  const size_t n = static_cast<size_t>(B) * T;
  auto from_arrays = [&](int k, int* in, int* tg) {
    std::copy_n(inputs + static_cast<size_t>(k) * n, n, in);
    std::copy_n(targets + static_cast<size_t>(k) * n, n, tg);
    // This rank does not see the global first micro-batch: every target must count (weight 1).
    GPT2_CHECK(
        count_targets(tg, n) == static_cast<int64_t>(n), "DataParallel::step: micro-batch ", k,
        " leaves targets out; micro-batches of different weights need the step from a MicroBatchSource");
    return 1.0f;
  };
  return step(from_arrays, B, T, K, lr, grad_clip);
}

StepOutcome DataParallel::step(const MicroBatchSource& next, int B, int T, int K, float lr, float grad_clip,
                               const std::function<bool()>& keep_going) {
  const int N = comm_->size();
  std::span<float> grads = model_->grads();
  TrainingOps& ops = training_ops(model_->backend());
  StepOutcome outcome;
  auto waited = [&](auto&& collective) {  // runs a blocking collective, counting the time
    const double start = seconds_now();
    collective();
    wait_seconds_ += seconds_now() - start;
  };

  // Forward and backward of each micro-batch into zeroed gradients, then the sum (the rule). The
  // buckets backward reports as final go out during backward (the callback of the constructor).
  std::vector<int> inputs(static_cast<size_t>(B) * T), targets(inputs.size());
  std::vector<float> losses_and_weights(2 * static_cast<size_t>(K));  // K losses, then K weights
  sync_.begin_step(K);
  for (int k = 0; k < K; ++k) {
    if (k > 0 && keep_going && !keep_going()) {
      outcome.status = StepStatus::kAbandoned;  // nothing was changed: the next step starts afresh
      return outcome;
    }
    const float weight = next(k, inputs.data(), targets.data());
    model_->zero_grad();
    losses_and_weights[k] = model_->forward(inputs.data(), targets.data(), B, T);
    losses_and_weights[K + k] = weight;
    inputs_ = inputs.data();
    num_inputs_ = inputs.size();
    table_sent_ = false;
    in_step_ = true;
    try {
      if (weight == 1.0f) {
        model_->backward();
      } else {
        model_->backward_weighted(weight);
      }
    } catch (...) {
      in_step_ = false;
      throw;
    }
    in_step_ = false;
    waited([&] { sync_.end_micro_batch(grads); });
  }

  // The loss: every rank's K weighted losses, and the weights, added in the global micro-batch
  // order j = k·N + r, as one process adds its N·K (chapter 06's train_step).
  std::vector<float> all;
  waited([&] { all = comm_->all_gather_values<float>(losses_and_weights); });  // rank r's at r·2K
  float loss_sum = 0.0f, weight_sum = 0.0f;
  for (int k = 0; k < K; ++k) {
    for (int r = 0; r < N; ++r) {
      const size_t at = static_cast<size_t>(r) * 2 * K + k;
      const float weight = all[at + K];
      loss_sum += weight * all[at];
      weight_sum += weight;
    }
  }
  const int M = N * K;  // micro-batches in the global batch
  outcome.loss = loss_sum / weight_sum;

  // The mean over the global batch, scaled on the shard (element-wise: same bits as on the whole).
  std::span<float> shard = sync_.shard();
  if (M > 1) ops.scale(shard.data(), shard.size(), 1.0f / weight_sum);

  if (adamw_) {
    // Plain data parallelism: the whole gradient on every rank, then chapter 06's clip and AdamW.
    waited([&] { sync_.gather(grads); });
    outcome.grad_norm = clip_grad_norm(ops, grads.data(), grads.size(), grad_clip);
    if (!std::isfinite(outcome.loss) || !std::isfinite(outcome.grad_norm)) {
      outcome.status = StepStatus::kNonFinite;
      return outcome;
    }
    adamw_->step(model_->params(), grads, lr);
    return outcome;
  }

  // ZeRO-1: norm, clip and update on the shard, then every rank's updated pieces to everyone.
  const BucketLayout& layout = sync_.layout();
  double norm = 0;
  waited([&] { norm = sharded_grad_norm(*comm_, layout, shard, ops); });
  outcome.grad_norm = static_cast<float>(norm);
  if (!std::isfinite(outcome.loss) || !std::isfinite(outcome.grad_norm)) {
    outcome.status = StepStatus::kNonFinite;  // the same on every rank: nobody updates
    return outcome;
  }
  if (grad_clip > 0 && norm > grad_clip) {  // clip_grad_norm's rule, on the shard
    ops.scale(shard.data(), shard.size(), static_cast<float>(grad_clip / (norm + 1e-6)));
  }
  // AdamW on the shard, piece by piece (one piece per bucket, in bucket order); each bucket's
  // all-gather of the updated parameters starts as soon as this rank's piece of it is done, so
  // the gathers of the first buckets run while AdamW computes the later pieces.
  std::span<float> params = model_->params();
  const int rank = comm_->rank();
  std::vector<std::unique_ptr<PendingCollective>> gathers;
  auto gather_until = [&](size_t end) {  // starts the gathers of buckets .. end - 1, in order
    for (size_t b = gathers.size(); b < end; ++b) {
      const Partition& bucket = layout.bucket(b);
      gathers.push_back(
          comm_->start_all_gather(params.data(), bucket, params.data() + bucket.piece(rank).begin));
    }
    for (auto& g : gathers) {
      if (g && g->test()) g.reset();
    }
  };
  // shard()[i] is rank's piece of bucket bucket_of[i] (the buckets whose piece is not empty).
  std::vector<size_t> bucket_of;
  for (size_t b = 0; b < layout.num_buckets(); ++b) {
    if (!layout.bucket(b).piece(rank).empty()) bucket_of.push_back(b);
  }
  sharded_->step(params, shard, lr, [&](size_t piece) { gather_until(bucket_of[piece] + 1); });
  waited([&] {
    gather_until(layout.num_buckets());
    for (auto& g : gathers) {
      if (g) g->wait();
    }
  });
  return outcome;
}

AdamWState DataParallel::gather_optimizer_state() {
  const bool root = comm_->rank() == 0;
  if (adamw_) return root ? adamw_->state() : AdamWState{};  // every rank holds all of it
  // ZeRO-1: each moment's pieces all-gathered, bucket by bucket, into the gradient buffer (free
  // between steps, and of the right size and layout), then copied to the host on rank 0.
  const BucketLayout& layout = sync_.layout();
  std::span<float> buffer = model_->grads();
  auto gather = [&](const float* mine) {
    std::vector<std::unique_ptr<PendingCollective>> gathers;
    size_t at = 0;
    for (size_t b = 0; b < layout.num_buckets(); ++b) {
      gathers.push_back(comm_->start_all_gather(buffer.data(), layout.bucket(b), mine + at));
      at += layout.bucket(b).piece(comm_->rank()).size();
    }
    for (auto& g : gathers) g->wait();
    return root ? to_host(model_->backend(), buffer.data(), buffer.size()) : std::vector<float>{};
  };
  AdamWState state;
  state.m = gather(sharded_->m_memory());
  state.v = gather(sharded_->v_memory());
  state.step = sharded_->step_count();
  model_->backend().zero(buffer.data(), buffer.size());  // no stale numbers left in the gradients
  return state;
}

void DataParallel::set_optimizer_state(const AdamWState& whole) {
  if (adamw_) {
    adamw_->set_state(whole);
    return;
  }
  const BucketLayout& layout = sync_.layout();
  GPT2_CHECK(whole.m.size() == layout.size() && whole.v.size() == layout.size(),
             "DataParallel::set_optimizer_state: the model has ", layout.size(), " parameters, the state ",
             whole.m.size(), " and ", whole.v.size(), " moments");
  const int r = comm_->rank();
  std::vector<float> m(layout.owned_floats(r)), v(m.size());
  shard_of(layout, r, whole.m, m);
  shard_of(layout, r, whole.v, v);
  sharded_->set_state(m, v, whole.step);
}

}  // namespace gpt2
