// ch11_demo: what an all-reduce costs, counted on simulated ranks and estimated for GPT-2 124M,
// and, when started by mpirun, the real thing: the ranks' rank-order sum against one process's.
//
// Usage: ./build/bin/ch11_demo
//        mpirun -np 2 ./build/bin/ch11_demo        (add --oversubscribe on a small machine)
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

#include "chapters/05_gpt2_model/config.h"
#include "chapters/05_gpt2_model/parameters.h"
#include "chapters/11_distributed/ring_allreduce.h"
#include "common/rng.h"
#include "common/timer.h"
#ifdef GPT2_HAVE_MPI
#include "chapters/11_distributed/mpi_communicator.h"
#endif

namespace {

std::vector<float> buffer_of(int rank, size_t n) {
  gpt2::Rng rng(1000 + rank);
  std::vector<float> v(n);
  for (float& x : v) x = rng.normal();
  return v;
}

void simulated_traffic() {
  const size_t n = 1 << 18;
  std::printf("All-reduce of %zu floats on N simulated ranks: floats sent by the busiest rank\n", n);
  std::printf("%6s %16s %16s %12s\n", "N", "ring", "gather to 0", "ring / n");
  for (int N : {2, 4, 8, 16, 32}) {
    std::vector<std::vector<float>> ranks;
    for (int r = 0; r < N; ++r) ranks.push_back(buffer_of(r, n));
    std::vector<std::vector<float>> copy = ranks;
    const gpt2::AllReduceTraffic ring = gpt2::ring_all_reduce(ranks);
    const gpt2::AllReduceTraffic naive = gpt2::gather_all_reduce(copy);
    std::printf("%6d %16zu %16zu %12.3f\n", N, ring.floats_sent[0], naive.floats_sent[0],
                static_cast<double>(ring.floats_sent[0]) / n);
  }
  std::printf("(the ring: 2(N-1)/N of the buffer, below 2 for any N; the gather: N-1 buffers)\n\n");
}

void gpt2_estimate() {
  const double params = static_cast<double>(gpt2::count_parameters(gpt2::GPT2Config::from_name("gpt2")));
  const double bytes = 4 * params;
  std::printf("GPT-2 124M: %.0f parameters, %.1f MB of float32 gradients\n", params, bytes / 1e6);
  std::printf("all-reduce per rank and step (seconds at one link's speed):\n");
  std::printf("%10s %12s %10s %10s %10s\n", "ranks", "MB sent", "10 Gb/s", "100 Gb/s", "400 Gb/s");
  for (int N : {2, 8, 64, 1024}) {
    const double sent = 2.0 * (N - 1) / N * bytes;
    std::printf("%10d %12.1f %10.3f %10.4f %10.4f\n", N, sent / 1e6, sent / 1.25e9, sent / 12.5e9,
                sent / 50e9);
  }
  std::printf("AdamW moments per rank: %.1f MB on one rank; with ZeRO-1 %.1f MB on 2, %.1f MB on 8\n\n",
              2 * bytes / 1e6, bytes / 1e6, 2 * bytes / 8 / 1e6);
}

#ifdef GPT2_HAVE_MPI
int real_ranks(int* argc, char*** argv) {
  gpt2::MpiSession mpi(argc, argv);
  gpt2::MpiCommunicator comm;
  return gpt2::run_rank(comm, [&] {
    const size_t n = 1 << 23;  // 32 MB
    const std::vector<float> mine = buffer_of(comm.rank(), n);
    std::vector<float> buf;
    double seconds = 1e30;  // the best of 3 (the first also pays for connecting and page faults)
    for (int round = 0; round < 3; ++round) {
      buf = mine;
      comm.barrier();
      gpt2::Timer timer;
      comm.all_reduce_sum(buf.data(), n);
      seconds = std::min(seconds, timer.seconds());
    }
    if (comm.rank() == 0) {
      // One process adding the N buffers in rank order.
      std::vector<float> expected = buffer_of(0, n);
      for (int q = 1; q < comm.size(); ++q) {
        const std::vector<float> b = buffer_of(q, n);
        for (size_t i = 0; i < n; ++i) expected[i] += b[i];
      }
      const bool same = std::memcmp(expected.data(), buf.data(), n * sizeof(float)) == 0;
      std::printf("%d ranks: all-reduce of %zu floats in %.3f s (%.2f GB/s of buffer); %s\n", comm.size(), n,
                  seconds, 4.0 * n / seconds / 1e9,
                  same ? "the same bits as one process adding the ranks in rank order"
                       : "DIFFERENT from one process's rank-order sum");
      if (!same) return 1;
    }
    return 0;
  });
}
#endif

}  // namespace

int main(int argc, char** argv) {
#ifdef GPT2_HAVE_MPI
  if (gpt2::MpiSession::launched_by_mpirun()) return real_ranks(&argc, &argv);
#endif
  (void)argc, (void)argv;
  simulated_traffic();
  gpt2_estimate();
#ifdef GPT2_HAVE_MPI
  std::printf("Run it under mpirun (mpirun -np 2 %s) for a real all-reduce.\n", argv[0]);
#else
  std::printf("Built without MPI: no real all-reduce (install libopenmpi-dev and rebuild).\n");
#endif
  return 0;
}
