// The main() of test_11_mpi: MPI up, the Catch2 tests on every rank, and one exit status for the
// job (a failure on any rank fails every rank).
#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_all.hpp>  // Catch2 3
#else
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>  // Catch2 2
#endif

#include <cstdio>
#include <memory>

#include "chapters/11_distributed/tests/mpi_test.h"

namespace {
gpt2::MpiCommunicator* g_world = nullptr;
}

gpt2::MpiCommunicator& ch11_test::world() {
  return *g_world;
}

int main(int argc, char** argv) {
  gpt2::MpiSession mpi(&argc, &argv);
  auto world = std::make_unique<gpt2::MpiCommunicator>(MPI_COMM_WORLD, 60.0);
  g_world = world.get();
  if (world->size() < 2) {
    std::printf("test_11_mpi needs at least 2 ranks: run it as mpirun -np 2 %s\n", argv[0]);
    return 1;
  }
  return gpt2::run_rank(*world, [&] {
    const int failed = Catch::Session().run(argc, argv);
    // Every rank's failures, so that the job's status does not depend on which rank mpirun reports.
    const std::vector<int> all = world->all_gather_values<int>(std::span<const int>(&failed, 1));
    int total = 0;
    for (int f : all) total += f;
    world->barrier();
    g_world = nullptr;
    return total > 0 ? 1 : 0;
  });
}
