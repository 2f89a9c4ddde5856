// Running the real gpt2 binary alone and as the ranks of an mpirun job, with a hard time limit
// (chapter 11's run_job.h), and reading what its runs leave: for the tests of gpt2 train and
// gpt2 finetune under mpirun.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "chapters/06_training/metrics.h"
#include "chapters/11_distributed/tests/run_job.h"
#include "common/file_io.h"

namespace ch12_test {

namespace fs = std::filesystem;
using ch11_test::Outcome;
using ch11_test::run_job;

// The tests' directory, removed when the program ends.
inline const fs::path& work() {
  static const struct WorkDir {
    fs::path path = fs::temp_directory_path() / ("gpt2_ch12_mpi_" + std::to_string(getpid()));
    WorkDir() {
      fs::remove_all(path);
      fs::create_directories(path);
    }
    ~WorkDir() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  } dir;
  return dir.path;
}

// Seconds a job may take: a few seconds here; the rest is slack for a loaded machine.
constexpr double kLimitSeconds = 240;
// Seconds within which a failed job must be over once its rank has failed.
constexpr double kBoundSeconds = 30;

// `gpt2 args...` in one process with `threads` OpenMP threads. Waiting threads sleep instead of
// spinning (OMP_WAIT_POLICY=passive): on a machine shared with other jobs (CI runs two tests at a
// time), spinning threads take the cores the working ones need, and a run of seconds takes
// minutes. Only the scheduling changes, never a bit of the result.
inline Outcome alone(const std::vector<std::string>& args, int threads = 2) {
  std::vector<std::string> argv = {"env", "OMP_NUM_THREADS=" + std::to_string(threads),
                                   "OMP_WAIT_POLICY=passive", GPT2_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_job(argv, kLimitSeconds);
}

// mpirun with one thread per rank, then `apps`: each is "-np N program args..." (several: MPMD).
inline std::vector<std::string> mpirun(const std::vector<std::vector<std::string>>& apps) {
  std::vector<std::string> argv = {"env", "OMP_NUM_THREADS=1",
                                   "OMPI_MCA_btl_vader_single_copy_mechanism=none", GPT2_MPIEXEC};
  std::istringstream flags(GPT2_MPIEXEC_FLAGS);
  for (std::string f; flags >> f;) argv.push_back(f);
  for (size_t i = 0; i < apps.size(); ++i) {
    if (i > 0) argv.push_back(":");
    argv.insert(argv.end(), apps[i].begin(), apps[i].end());
  }
  return argv;
}
// "-np n gpt2 args...", an app of mpirun().
inline std::vector<std::string> ranks(int n, const std::vector<std::string>& args) {
  std::vector<std::string> app = {"-np", std::to_string(n), GPT2_BIN};
  app.insert(app.end(), args.begin(), args.end());
  return app;
}

inline std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// metrics.csv without the columns that measure time: step, losses, lr, norm (every digit the
// file has).
inline std::string numbers_of(const fs::path& run) {
  std::ostringstream out;
  out.precision(17);
  for (const gpt2::StepMetrics& m : gpt2::read_metrics_csv(run / "metrics.csv")) {
    out << m.step << " " << m.train_loss << " " << m.val_loss << " " << m.lr << " " << m.grad_norm << "\n";
  }
  return out.str();
}
inline std::string bytes_of(const fs::path& file) {
  return gpt2::read_file(file);
}

}  // namespace ch12_test
