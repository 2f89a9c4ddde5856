#include "data_parallel_run.h"

#include <cstdint>
#include <string_view>

#include "common/error.h"

namespace gpt2 {

DataParallelRun::DataParallelRun(Communicator& comm, const DataParallelOptions& options,
                                 std::vector<Fingerprint> checks)
    : comm_(&comm), options_(options), checks_(std::move(checks)) {}

void DataParallelRun::begin(TrainableModel& model, const AdamWConfig& config) {
  if (!checked_) {
    std::vector<Fingerprint> items = checks_;
    items.push_back(parameters_fingerprint("initial model", model));
    check_ranks_agree(*comm_, items);
    checked_ = true;
  }
  end();  // a run that was not ended: first, so that its destructor does not unhook the new one
  model_ = &model;
  dp_ = std::make_unique<DataParallel>(*comm_, model, config, options_);
}

void DataParallelRun::end() {
  if (dp_) {
    earlier_wait_seconds_ += dp_->wait_seconds();
    earlier_overlap_ = overlap();
  }
  dp_.reset();
  model_ = nullptr;
}

DataParallel& DataParallelRun::data_parallel() {
  GPT2_CHECK(dp_, "DataParallelRun: no run is going on (train() calls begin() and end())");
  return *dp_;
}

double DataParallelRun::wait_seconds() const {
  return earlier_wait_seconds_ + (dp_ ? dp_->wait_seconds() : 0.0);
}

GradientSync::Overlap DataParallelRun::overlap() const {
  GradientSync::Overlap o = earlier_overlap_;
  if (dp_) {
    const GradientSync::Overlap& now = dp_->sync().overlap();
    o.reduced += now.reduced;
    o.started_early += now.started_early;
    o.arrived_early += now.arrived_early;
  }
  return o;
}

StepOutcome DataParallelRun::step(const MicroBatchSource& next, int B, int T, int K, float lr,
                                  float grad_clip, const std::function<bool()>& keep_going) {
  return data_parallel().step(next, B, T, K, lr, grad_clip, keep_going);
}

bool DataParallelRun::any(bool mine) {
  const uint8_t flag = mine ? 1 : 0;
  for (uint8_t f : comm_->all_gather_values<uint8_t>(std::span<const uint8_t>(&flag, 1))) {
    if (f) return true;
  }
  return false;
}

double DataParallelRun::from_rank0(double mine) {
  return comm_->all_gather_values<double>(std::span<const double>(&mine, 1))[0];
}

std::vector<float> DataParallelRun::all_gather(std::span<const float> mine) {
  return comm_->all_gather_values<float>(mine);
}

std::filesystem::path DataParallelRun::save_checkpoint(const std::filesystem::path& out_dir,
                                                       const TrainingState& state, int keep) {
  const AdamWState optimizer = data_parallel().gather_optimizer_state();  // on rank 0
  std::filesystem::path dir = checkpoint_dir(out_dir, state.step);
  if (rank() == 0) dir = gpt2::save_checkpoint(out_dir, *model_, optimizer, state, keep);
  // Nobody goes on before the checkpoint is complete: a rank that resumes right away (or a run
  // stopped now) must find it.
  comm_->barrier();
  return dir;
}

TrainingState DataParallelRun::load_checkpoint(const std::filesystem::path& dir) {
  DataParallel& dp = data_parallel();
  AdamWState optimizer;
  TrainingState state = gpt2::load_checkpoint(dir, *model_, optimizer);
  dp.set_optimizer_state(optimizer);
  return state;
}

Fingerprint parameters_fingerprint(std::string what, TrainableModel& model) {
  const std::span<float> params = model.params();
  const std::vector<float> host = to_host(model.backend(), params.data(), params.size());
  const std::string_view bytes(reinterpret_cast<const char*>(host.data()), host.size() * sizeof(float));
  return {std::move(what), fnv1a(bytes), cat(params.size(), " parameters")};
}

}  // namespace gpt2
