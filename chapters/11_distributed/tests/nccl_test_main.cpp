// The main() of test_11_nccl (under mpirun -np 2): without a GPU per rank every rank says why and
// exits with 77, which CTest reports as "Skipped"; with them, the Catch2 tests on every rank.
#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_all.hpp>  // Catch2 3
#else
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>  // Catch2 2
#endif

#include <cstdio>
#include <memory>

#include "chapters/09_cuda/cuda_check.h"
#include "chapters/09_cuda/device.h"
#include "chapters/11_distributed/nccl_communicator.h"
#include "chapters/11_distributed/tests/nccl_test.h"

namespace {
gpt2::MpiCommunicator* g_mpi = nullptr;
gpt2::NcclCommunicator* g_nccl = nullptr;
}  // namespace

gpt2::MpiCommunicator& ch11_test::mpi_world() {
  return *g_mpi;
}
gpt2::NcclCommunicator& ch11_test::nccl_world() {
  return *g_nccl;
}

int main(int argc, char** argv) {
  gpt2::MpiSession mpi(&argc, &argv);
  gpt2::MpiCommunicator world(MPI_COMM_WORLD, 60.0);
  const std::string reason = gpt2::NcclCommunicator::unusable_reason(world);
  if (!reason.empty()) {
    if (world.rank() == 0)
      std::printf("SKIPPED: the chapter 11 NCCL tests need one GPU per rank: %s\n", reason.c_str());
    return gpt2::cuda::kSkipReturnCode;
  }
  return gpt2::run_rank(world, [&] {
    gpt2::cuda::set_sync_after_launch(true);
    gpt2::NcclCommunicator nccl(world);
    g_mpi = &world;
    g_nccl = &nccl;
    const int failed = Catch::Session().run(argc, argv);
    const std::vector<int> all = world.all_gather_values<int>(std::span<const int>(&failed, 1));
    int total = 0;
    for (int f : all) total += f;
    world.barrier();
    return total > 0 ? 1 : 0;
  });
}
