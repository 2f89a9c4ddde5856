// A small data-parallel job whose last rank goes wrong on purpose, for tests/test_faults.cpp:
//
//   mpirun -np 2 ch11_fault_rank MODE PID_DIR
//
// Every rank writes its pid to PID_DIR/rank<r>.pid, then the ranks all-reduce a buffer in a loop.
// At the third round the last rank
//   kill:  kills itself with SIGKILL (as the OOM killer would);
//   error: opens a file that does not exist (a gpt2::Error, as a bad data file would give);
//   error_in_flight: the same, but with a reduce started that no other rank joins (the error must
//          still be reported, not wait in the unfinished collective's clean-up);
//   stuck: stops itself with SIGSTOP (as a hung file system or an unreachable machine would);
//   none:  does nothing wrong (the job finishes and prints "finished").
// The watchdog's timeout is 3 s, so that the stuck case ends quickly.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "chapters/11_distributed/mpi_communicator.h"
#include "common/error.h"
#include "common/file_io.h"

int main(int argc, char** argv) {
  gpt2::MpiSession mpi(&argc, &argv);
  gpt2::MpiCommunicator comm(MPI_COMM_WORLD, /*timeout_seconds=*/3.0);
  return gpt2::run_rank(comm, [&] {
    GPT2_CHECK(argc == 3, "usage: ch11_fault_rank kill|error|error_in_flight|stuck|none PID_DIR");
    const std::string mode = argv[1];
    GPT2_CHECK(
        mode == "kill" || mode == "error" || mode == "error_in_flight" || mode == "stuck" || mode == "none",
        "unknown mode '", mode, "'");
    std::ofstream(std::string(argv[2]) + "/rank" + std::to_string(comm.rank()) + ".pid") << getpid() << "\n";
    const bool faulty = comm.rank() == comm.size() - 1;
    std::vector<float> grads(1 << 16, 1.0f);
    for (int round = 0; round < 6; ++round) {
      if (faulty && round == 3) {
        if (mode == "kill") raise(SIGKILL);
        if (mode == "stuck") raise(SIGSTOP);
        if (mode == "error") gpt2::read_file("no/such/dir/train.bin");
        if (mode == "error_in_flight") {
          // Two reduces: the first meets the other ranks' reduce of this round, the second one
          // nobody joins (the others are in the all-gather by then).
          const gpt2::Partition pieces = gpt2::Partition::split({0, grads.size()}, comm.size());
          std::vector<float> acc(grads.size());
          auto joined = comm.start_reduce(grads.data(), pieces, acc.data(), /*accumulate=*/false);
          auto alone = comm.start_reduce(grads.data(), pieces, acc.data(), /*accumulate=*/false);
          gpt2::read_file("no/such/dir/train.bin");
        }
      }
      comm.all_reduce_sum(grads.data(), grads.size());
      std::fill(grads.begin(), grads.end(), 1.0f);
    }
    comm.barrier();
    if (comm.rank() == 0) std::printf("finished\n");
    return 0;
  });
}
