// Faults: a 2-rank job (tests/fault_rank.cpp) whose last rank dies, fails or hangs must end on its
// own, within a bounded time, with a message naming the rank and the cause, and leave no rank
// behind. Each job runs under mpirun in its own process group with a hard limit of its own; if it
// overruns, the group is killed and the test fails.
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "chapters/11_distributed/tests/run_job.h"
#include "tests/catch.h"

namespace {

using ch11_test::is_gone;
using ch11_test::Outcome;
using ch11_test::run_job;

struct Job {
  Outcome outcome;
  std::vector<pid_t> left_behind;  // ranks still alive after the job ended (killed by the test)
};

Job run_fault(const std::string& mode) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("gpt2_ch11_fault_" + mode + "_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::vector<std::string> argv = {GPT2_MPIEXEC, "-np", "2"};
  std::istringstream flags(GPT2_MPIEXEC_FLAGS);
  for (std::string f; flags >> f;) argv.push_back(f);
  argv.insert(argv.end(), {GPT2_FAULT_RANK, mode, dir.string()});

  Job job;
  job.outcome = run_job(argv, 60.0);
  // Give the system a moment to reap, then look for survivors; kill any so nothing stays behind.
  for (int r = 0; r < 2; ++r) {
    std::ifstream in(dir / ("rank" + std::to_string(r) + ".pid"));
    pid_t pid = 0;
    if (!(in >> pid) || pid <= 0) continue;
    for (int tries = 0; tries < 50 && !is_gone(pid); ++tries) usleep(100 * 1000);
    if (!is_gone(pid)) {
      job.left_behind.push_back(pid);
      kill(pid, SIGKILL);
    }
  }
  std::filesystem::remove_all(dir);
  UNSCOPED_INFO("mpirun exit status " << job.outcome.status << " after " << job.outcome.seconds
                                      << " s; output:\n"
                                      << job.outcome.output);
  return job;
}

// Seconds within which a failed job must be over: mpirun's own reaction takes 1-3 s, the
// watchdog 3 s; the rest is slack for a loaded machine.
constexpr double kBoundSeconds = 30;

// A failed job: over by itself, in time, with a non-zero status and nothing left running.
void check_ended(const Job& job) {
  CHECK_FALSE(job.outcome.timed_out);
  CHECK(job.outcome.seconds < kBoundSeconds);
  CHECK(job.outcome.status != 0);
  CHECK(job.left_behind.empty());
}

}  // namespace

TEST_CASE("A healthy job finishes", "[faults]") {
  const Job job = run_fault("none");
  CHECK_FALSE(job.outcome.timed_out);
  CHECK(job.outcome.status == 0);
  CHECK_THAT(job.outcome.output, Catch::Contains("finished"));
  CHECK(job.left_behind.empty());
}

TEST_CASE("A rank killed with SIGKILL ends the job, naming the rank and the signal", "[faults]") {
  const Job job = run_fault("kill");
  check_ended(job);
  CHECK_THAT(job.outcome.output, Catch::Contains("rank 1") && Catch::Contains("signal 9"));
}

TEST_CASE("A rank failing on a missing file ends the job, naming the rank and the file", "[faults]") {
  const Job job = run_fault("error");
  check_ended(job);
  CHECK(job.outcome.status == 1);
  CHECK_THAT(job.outcome.output,
             Catch::Contains("error: rank 1 of 2") && Catch::Contains("no/such/dir/train.bin"));
}

TEST_CASE("A rank failing with a reduce of its own in flight still ends the job with its error", "[faults]") {
  const Job job = run_fault("error_in_flight");
  check_ended(job);
  CHECK(job.outcome.status == 1);
  CHECK_THAT(job.outcome.output,
             Catch::Contains("error: rank 1 of 2") && Catch::Contains("no/such/dir/train.bin"));
}

TEST_CASE("A rank that hangs is found by the watchdog of the rank waiting for it", "[faults]") {
  const Job job = run_fault("stuck");
  check_ended(job);
  CHECK_THAT(job.outcome.output, Catch::Contains("rank 0 of 2") && Catch::Contains("waited") &&
                                     Catch::Contains("a rank is stuck"));
}
