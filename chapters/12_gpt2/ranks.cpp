// gpt2 as one rank of an mpirun job, and the ranks of a training command: see ranks.h. The only
// file of chapter 12 that knows whether the build has MPI and NCCL.
#include "chapters/12_gpt2/ranks.h"

#include <sys/resource.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <numeric>
#include <ostream>

#include "chapters/11_distributed/communicator.h"
#include "chapters/11_distributed/data_parallel_run.h"
#include "common/error.h"
#if GPT2_HAVE_MPI
#include "chapters/11_distributed/mpi_communicator.h"
#endif
#if GPT2_HAVE_NCCL
#include "chapters/11_distributed/nccl_communicator.h"
#endif

namespace gpt2 {

bool started_by_mpirun() {
  return launcher_world_size() > 0;
}

double process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + 1e-6 * t.tv_usec; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

void add_data_parallel_options(ArgParser& p) {
  p.flag("--zero1", "under mpirun: shard AdamW's moments over the ranks (ZeRO-1); the same result");
  p.option(
      "--bucket-mb", "MB",
      "under mpirun: send the gradients in buckets of MB megabytes while backward runs (0: all at the end)",
      "8");
  p.option("--rank-timeout", "SECONDS",
           "under mpirun: stop the job when a rank waits longer than this for the others", "300");
}

std::vector<Fingerprint> run_option_checks(std::span<const std::string> stored, const ArgParser& p,
                                           const Backend& backend) {
  std::string options;
  for (const std::string& a : stored) options += a + '\n';
  const std::string sharing = cat("zero1 ", p.given("--zero1"), ", buckets of ",
                                  p.get_double("--bucket-mb", 0, 1e6), " MB, kernels ", backend.name());
  return {{"options", fnv1a(options), cat(stored.size(), " arguments")},
          {"data-parallel options and kernels", fnv1a(sharing), sharing}};
}

std::string mpirun_prefix(int ranks) {
  return ranks > 1 ? cat("mpirun -np ", ranks, " ") : std::string();
}

namespace {

// "498.0 MB", or "12.3 kB" below a tenth of a megabyte (a fine-tuning's head or adapter).
std::string megabytes(double floats) {
  const double bytes = floats * sizeof(float);
  char buf[32];
  if (bytes < 1e5) {
    std::snprintf(buf, sizeof buf, "%.1f kB", bytes / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f MB", bytes / 1e6);
  }
  return buf;
}

}  // namespace

#if GPT2_HAVE_MPI

namespace {

// Where output goes on the ranks that keep quiet.
std::ostream& discard() {
  static std::ostream null(nullptr);
  return null;
}

}  // namespace

int run_gpt2_as_rank(int* argc, char*** argv, std::span<const std::string> args) {
  MpiSession mpi(argc, argv);
  // This communicator only names the rank and stops the job; the training makes its own, watched
  // by a watchdog of its --rank-timeout (so this one has none).
  MpiCommunicator world(MPI_COMM_WORLD, /*timeout_seconds=*/0);
  if (world.size() == 1) return run_gpt2(args, {std::cin, std::cout, std::cerr});  // mpirun -np 1
  const bool speaks = world.rank() == 0;
  const CommandIO io{std::cin, speaks ? std::cout : discard(), speaks ? std::cerr : discard(), &world};
  return run_rank(world, [&] { return run_command(args, io); });
}

int job_ranks(const CommandIO& io) {
  return io.job ? io.job->size() : 1;
}

#else

int run_gpt2_as_rank(int*, char***, std::span<const std::string> args) {
  const int n = launcher_world_size();
  if (n <= 1) return run_gpt2(args, {std::cin, std::cout, std::cerr});
  std::cerr << "error: this gpt2 was built without MPI, so the " << n
            << " copies mpirun started would each run alone (and train into the same directory); build it "
               "with MPI (Debian: apt-get install libopenmpi-dev, then configure again), or run it without "
               "mpirun\n";
  return 1;
}

int job_ranks(const CommandIO&) {
  return 1;
}

#endif

// ----- TrainingRanks -----------------------------------------------------------------------------

struct TrainingRanks::State {
#if GPT2_HAVE_MPI
  std::unique_ptr<MpiCommunicator> mpi;
#endif
#if GPT2_HAVE_NCCL
  std::unique_ptr<NcclCommunicator> nccl;
#endif
  Communicator* comm = nullptr;  // what the training's collectives run on; null in one process
  DataParallelOptions options;
  std::unique_ptr<DataParallelRun> run;
};

TrainingRanks::TrainingRanks(const CommandIO& io, const ArgParser& p, BackendOptions& backend)
    : state_(std::make_unique<State>()) {
  const double bucket_mb = p.get_double("--bucket-mb", 0.0, 1e6);
  const double timeout = p.get_double("--rank-timeout", 1.0, 1e9);
  state_->options.zero1 = p.given("--zero1");
  state_->options.bucket_floats = static_cast<size_t>(std::llround(bucket_mb * 1e6 / sizeof(float)));
  if (job_ranks(io) == 1) return;
#if GPT2_HAVE_MPI
  state_->mpi = std::make_unique<MpiCommunicator>(io.job->comm(), timeout);
  state_->comm = state_->mpi.get();
  if (backend.device == "cuda") {
#if GPT2_HAVE_NCCL
    state_->nccl = std::make_unique<NcclCommunicator>(*state_->mpi);  // picks this rank's GPU
    backend.cuda_device = state_->nccl->device();
    state_->comm = state_->nccl.get();
#else
    fail(
        "--device cuda under mpirun: this gpt2 was built without NCCL (configure with -DGPT2_CUDA=ON on a "
        "machine whose CUDA toolkit has NCCL)");
#endif
  }
#else
  (void)timeout;
  (void)backend;
#endif
}

TrainingRanks::~TrainingRanks() = default;

int TrainingRanks::rank() const {
  return state_->comm ? state_->comm->rank() : 0;
}

int TrainingRanks::size() const {
  return state_->comm ? state_->comm->size() : 1;
}

DataParallelHook* TrainingRanks::hook(std::vector<Fingerprint> checks) {
  if (!state_->comm) return nullptr;
  checks.insert(checks.begin(), Fingerprint{"binary", hash_this_program(), "/proc/self/exe"});
  state_->run = std::make_unique<DataParallelRun>(*state_->comm, state_->options, std::move(checks));
  return state_->run.get();
}

std::string TrainingRanks::describe(size_t parameters, bool overlaps) {
  if (!state_->comm) return "";
  Communicator& comm = *state_->comm;
  // Every rank's where(), gathered as fixed-size strings.
  constexpr size_t kWhere = 160;
  std::vector<char> mine(kWhere, '\0');
  const std::string here = comm.where();
  std::copy_n(here.begin(), std::min(here.size(), kWhere - 1), mine.begin());
  const std::vector<char> all = comm.all_gather_values<char>(mine);
  std::string text =
      cat("data parallel over ", comm.size(), " ranks (", comm.device_memory() ? "NCCL" : "MPI", "): ");
  for (int r = 0; r < comm.size(); ++r)
    text += cat(r > 0 ? ", " : "", all.data() + static_cast<size_t>(r) * kWhere);
  const DataParallelOptions& o = state_->options;
  const BucketLayout layout = bucket_layout(parameters, comm.size(), o);
  if (layout.num_buckets() == 1) {
    text += "; one bucket (no overlap)";
  } else {
    text += cat("; ", layout.num_buckets(), " buckets of ", megabytes(layout.bucket_floats()));
    if (!overlaps)
      text +=
          ", sent once backward is done (an attached layer's gradients, a head's or LoRA's, are final "
          "only then)";
  }
  if (o.zero1) {
    text += cat("; ZeRO-1: AdamW's moments ", megabytes(2.0 * layout.owned_floats(0)),
                " on rank 0 instead of ", megabytes(2.0 * parameters));
  }
  return text;
}

nlohmann::json TrainingRanks::Report::summary() const {
  nlohmann::json j = {{"ranks", ranks()},
                      {"cpu_seconds", std::accumulate(cpu_seconds.begin(), cpu_seconds.end(), 0.0)},
                      {"communication_wait_seconds", wait_seconds}};
  if (!started_in_backward.empty()) {
    j["reduce_started_in_backward"] = started_in_backward;
    j["reduce_arrived_in_backward"] = arrived_in_backward;
  }
  return j;
}

TrainingRanks::Report TrainingRanks::report(double cpu_seconds_since) {
  Report r;
  const double cpu = process_cpu_seconds() - cpu_seconds_since;
  if (!state_->comm) {
    r.cpu_seconds = {cpu};
    r.wait_seconds = {0.0};
    return r;
  }
  const GradientSync::Overlap o = state_->run ? state_->run->overlap() : GradientSync::Overlap{};
  const double reduced = o.reduced > 0 ? o.reduced : 1.0;
  const double mine[4] = {state_->run ? state_->run->wait_seconds() : 0.0, cpu, o.started_early / reduced,
                          o.arrived_early / reduced};
  const std::vector<double> all = state_->comm->all_gather_values<double>(mine);
  for (int q = 0; q < size(); ++q) {
    const double* theirs = all.data() + 4 * static_cast<size_t>(q);
    r.wait_seconds.push_back(theirs[0]);
    r.cpu_seconds.push_back(theirs[1]);
    r.started_in_backward.push_back(theirs[2]);
    r.arrived_in_backward.push_back(theirs[3]);
  }
  return r;
}

}  // namespace gpt2
