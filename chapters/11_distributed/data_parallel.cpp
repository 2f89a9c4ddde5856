#include "data_parallel.h"

#include "chapters/06_training/grad_clip.h"
#include "common/error.h"

namespace gpt2 {

// ----- GradientSync ----------------------------------------------------------------------------

GradientSync::GradientSync(Communicator& comm, size_t n, const DataParallelOptions& options)
    : comm_(&comm), layout_(n, comm.size(), options.bucket_floats, options.zero1 ? kNormChunk : 1) {
  size_t at = 0;
  for (size_t b = 0; b < layout_.num_buckets(); ++b) {
    offset_.push_back(at);
    at += layout_.bucket(b).piece(comm.rank()).size();
  }
  host_acc_.assign(at, 0.0f);
  shard_ = host_acc_;
  in_flight_.resize(layout_.num_buckets());
}

void GradientSync::use_accumulator(std::span<float> memory) {
  GPT2_CHECK(memory.size() == host_acc_.size(), "GradientSync::use_accumulator: rank ", comm_->rank(),
             " owns ", host_acc_.size(), " floats, the memory given has ", memory.size());
  shard_ = memory;
  host_acc_ = {};
}

void GradientSync::begin_step(int K) {
  GPT2_CHECK(K >= 1, "GradientSync::begin_step: K must be >= 1, got ", K);
  micro_batch_ = 0;
  started_ = 0;
}

void GradientSync::grads_ready(std::span<const float> grads, size_t first_ready) {
  GPT2_CHECK(grads.size() == layout_.size(), "GradientSync: the gradient buffer has ", grads.size(),
             " floats, the layout ", layout_.size());
  const size_t complete = layout_.complete_buckets(first_ready);
  for (; started_ < complete; ++started_) {
    // The first micro-batch of a step starts each sum afresh; later ones add to it (the rule).
    in_flight_[started_] =
        comm_->start_reduce(grads.data(), layout_.bucket(started_), shard_.data() + offset_[started_],
                            /*accumulate=*/micro_batch_ > 0);
  }
  // Give the buckets in flight a chance to move on (MPI progresses only inside MPI calls).
  for (size_t b = 0; b < started_; ++b) {
    if (in_flight_[b] && in_flight_[b]->test()) in_flight_[b].reset();
  }
}

void GradientSync::end_micro_batch(std::span<const float> grads) {
  grads_ready(grads, 0);  // whatever backward did not report: everything is final now
  for (auto& pending : in_flight_) {
    if (pending) pending->wait();
    pending.reset();
  }
  ++micro_batch_;
  started_ = 0;
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

DataParallel::DataParallel(Communicator& comm, TrainableModel& model, const AdamWConfig& config,
                           const DataParallelOptions& options)
    : comm_(&comm), model_(&model), sync_(comm, model.grads().size(), options) {
  GPT2_CHECK(model.params().size() == model.grads().size(), "DataParallel: ", model.params().size(),
             " parameters but ", model.grads().size(), " gradients");
  std::vector<ParamRange> decay = decay_ranges(model.param_infos());
  if (options.zero1) {
    sharded_ = std::make_unique<ShardedAdamW>(sync_.layout().owned(comm.rank()), std::move(decay), config);
  } else {
    adamw_ = std::make_unique<AdamW>(model.backend(), model.params().size(), std::move(decay), config);
  }
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
  const int N = comm_->size();
  std::span<float> grads = model_->grads();

  // Forward and backward of each micro-batch into zeroed gradients, then the sum (the rule).
  sync_.begin_step(K);
  std::vector<float> losses(K);
  for (int k = 0; k < K; ++k) {
    const size_t offset = static_cast<size_t>(k) * B * T;
    model_->zero_grad();
    losses[k] = model_->forward(inputs + offset, targets + offset, B, T);
    model_->backward();
    sync_.end_micro_batch(grads);
  }

  // The loss: every rank's K losses, added in the global micro-batch order j = k·N + r, as one
  // process adds its N·K losses.
  const std::vector<float> all = comm_->all_gather_values<float>(losses);  // all[r·K + k]
  float loss_sum = 0.0f;
  for (int k = 0; k < K; ++k) {
    for (int r = 0; r < N; ++r) loss_sum += all[static_cast<size_t>(r) * K + k];
  }
  const int M = N * K;  // micro-batches in the global batch
  StepOutcome outcome;
  outcome.loss = loss_sum / static_cast<float>(M);

  // The mean over the global batch, scaled on the shard (element-wise: same bits as on the whole).
  std::span<float> shard = sync_.shard();
  if (M > 1) scale_grads(shard.data(), shard.size(), 1.0f / static_cast<float>(M));

  if (adamw_) {
    // Plain data parallelism: the whole gradient on every rank, then chapter 06's clip and AdamW.
    sync_.gather(grads);
    outcome.grad_norm = clip_grad_norm(grads.data(), grads.size(), grad_clip);
    adamw_->step(model_->params(), grads, lr);
    return outcome;
  }

  // ZeRO-1: norm, clip and update on the shard, then every rank's updated pieces to everyone.
  const BucketLayout& layout = sync_.layout();
  const double norm = sharded_grad_norm(*comm_, layout, shard);
  if (grad_clip > 0 && norm > grad_clip) {  // clip_grad_norm's rule, on the shard
    scale_grads(shard.data(), shard.size(), static_cast<float>(grad_clip / (norm + 1e-6)));
  }
  outcome.grad_norm = static_cast<float>(norm);
  std::span<float> params = model_->params();
  sharded_->step(params, shard, lr);
  std::vector<std::unique_ptr<PendingCollective>> gathers;
  for (size_t b = 0; b < layout.num_buckets(); ++b) {
    const Partition& bucket = layout.bucket(b);
    gathers.push_back(
        comm_->start_all_gather(params.data(), bucket, params.data() + bucket.piece(comm_->rank()).begin));
  }
  for (auto& g : gathers) g->wait();
  return outcome;
}

}  // namespace gpt2
