// NCCL on device buffers against one process's rank-order sums, and against the MPI
// communicator: the same bits on GPUs as on CPUs.
#include <vector>

#include "chapters/09_cuda/device.h"
#include "chapters/11_distributed/buckets.h"
#include "chapters/11_distributed/tests/nccl_test.h"
#include "chapters/11_distributed/tests/test_util.h"
#include "tests/catch.h"

namespace {

using ch11_test::buffer_of;
using ch11_test::rank_order_sum;
using ch11_test::same_bits;
using gpt2::cuda::DeviceArray;

}  // namespace

TEST_CASE("NCCL all_reduce_sum equals one process's rank-order sum and the MPI communicator's", "[nccl]") {
  gpt2::NcclCommunicator& nccl = ch11_test::nccl_world();
  gpt2::MpiCommunicator& mpi = ch11_test::mpi_world();
  for (size_t n : {size_t{1}, size_t{1000}, size_t{1} << 20}) {
    INFO(nccl.where() << ", n = " << n);
    const std::vector<float> mine = buffer_of(nccl.rank(), n, 3);
    DeviceArray<float> d{std::span<const float>(mine)};
    nccl.all_reduce_sum(d.get(), n);
    const std::vector<float> gpu = d.download();
    CHECK(same_bits(gpu, rank_order_sum(nccl.size(), n, 3)));
    std::vector<float> cpu = mine;
    mpi.all_reduce_sum(cpu.data(), n);
    CHECK(same_bits(gpu, cpu));
  }
}

TEST_CASE("NCCL: bucketed reduces with accumulate, then the all-gather of the shards", "[nccl]") {
  gpt2::NcclCommunicator& nccl = ch11_test::nccl_world();
  const int N = nccl.size(), me = nccl.rank();
  const size_t n = 300001;
  gpt2::BucketLayout layout(n, N, 65536);
  const std::vector<float> b = buffer_of(me, n, 5), c = buffer_of(me, n, 6);
  DeviceArray<float> db{std::span<const float>(b)}, dc{std::span<const float>(c)};
  DeviceArray<float> acc(layout.owned_floats(me));
  for (const DeviceArray<float>* term : {&db, &dc}) {
    std::vector<std::unique_ptr<gpt2::PendingCollective>> pending;
    size_t at = 0;
    for (size_t k = 0; k < layout.num_buckets(); ++k) {
      pending.push_back(nccl.start_reduce(term->get(), layout.bucket(k), acc.get() + at, term == &dc));
      at += layout.bucket(k).piece(me).size();
    }
    for (auto& p : pending) p->wait();
  }
  std::vector<float> expected = rank_order_sum(N, n, 5);
  for (int q = 0; q < N; ++q) {
    const std::vector<float> cq = buffer_of(q, n, 6);
    for (size_t i = 0; i < n; ++i) expected[i] += cq[i];
  }
  DeviceArray<float> whole(n);
  size_t at = 0;
  for (size_t k = 0; k < layout.num_buckets(); ++k) {
    nccl.all_gather(whole.get(), layout.bucket(k), acc.get() + at);
    at += layout.bucket(k).piece(me).size();
  }
  CHECK(same_bits(whole.download(), expected));
}

TEST_CASE("NCCL broadcast and host values", "[nccl]") {
  gpt2::NcclCommunicator& nccl = ch11_test::nccl_world();
  const std::vector<float> mine = buffer_of(nccl.rank(), 4097, 8);
  DeviceArray<float> d{std::span<const float>(mine)};
  nccl.broadcast(d.get(), mine.size(), nccl.size() - 1);
  CHECK(same_bits(d.download(), buffer_of(nccl.size() - 1, 4097, 8)));
  const double x = 1.5 * nccl.rank();
  const std::vector<double> all = nccl.all_gather_values<double>(std::span<const double>(&x, 1));
  for (int r = 0; r < nccl.size(); ++r) CHECK(all[r] == 1.5 * r);
  nccl.barrier();
}
