/// @file nccl_communicator.h
/// @brief The Communicator on GPUs: NCCL moves device buffers between the ranks' GPUs (NVLink,
/// PCIe, InfiniBand), MPI starts the job and carries the host values.
///
/// One GPU per rank: a rank uses GPU local_rank() of its machine, so `mpirun -np 8` on a machine
/// with 8 GPUs gives each rank its own (NCCL refuses two ranks on one GPU). Rank 0 creates NCCL's
/// unique id and MPI broadcasts it; every rank then joins the NCCL communicator with it.
///
/// The buffers of start_reduce, start_all_gather, broadcast and all_reduce_sum are device
/// pointers. The sums are in rank order as communicator.h defines them, computed the way the MPI
/// communicator does: ncclSend/ncclRecv move every rank's piece to its owner into a staging
/// buffer (one NCCL group, all transfers at once), then the N contributions are added in rank
/// order, one cuBLAS saxpy (y ← 1·x + y) per rank: 1·x is exact, so each is one IEEE addition
/// and the bits are those of the CPU's loop (communicator.cpp). ncclAllReduce
/// and ncclReduceScatter would be a little faster, and their order of addition depends on the
/// ring or tree NCCL picks for the topology and message size.
///
/// Everything runs on one stream of its own, which first waits for the work already queued on
/// the default stream (where chapter 09's kernels produce the gradients), so a collective can
/// run while later kernels compute. wait() blocks the host until the collective is done, under
/// the watchdog, and names an asynchronous NCCL error (a peer gone) as an error.
#pragma once

#include <memory>
#include <string>

#include "chapters/11_distributed/communicator.h"
#include "chapters/11_distributed/mpi_communicator.h"

namespace gpt2 {

class NcclCommunicator : public Communicator {
 public:
  /// Picks this rank's GPU and joins the NCCL communicator of all of mpi's ranks. Throws
  /// gpt2::Error naming the rank when there are fewer GPUs than ranks on its machine.
  explicit NcclCommunicator(MpiCommunicator& mpi);
  ~NcclCommunicator() override;
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override;
  int size() const override;
  std::string where() const override;
  bool device_memory() const override { return true; }
  /// The GPU this rank uses.
  int device() const;

  std::unique_ptr<PendingCollective> start_reduce(const float* buf, const Partition& pieces, float* acc,
                                                  bool accumulate) override;
  std::unique_ptr<PendingCollective> start_all_gather(float* buf, const Partition& pieces,
                                                      const float* mine) override;
  void broadcast(float* buf, size_t n, int root) override;
  void barrier() override;
  void all_reduce_sum(float* buf, size_t n) override;

  /// Why NCCL cannot run here ("no CUDA device", "1 GPU for 2 ranks on host h"), or "" when it
  /// can: for tests that skip without GPUs. Every rank gets the same answer.
  static std::string unusable_reason(MpiCommunicator& mpi);

 protected:
  void all_gather_bytes(const void* mine, size_t bytes, void* all) override;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace gpt2
