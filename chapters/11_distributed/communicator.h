/// @file communicator.h
/// @brief What data-parallel training needs from the ranks it runs on: a small interface, with a
/// one-process implementation here, MPI (mpi_communicator.h) and NCCL (nccl_communicator.h)
/// beside it.
///
/// N copies of the program (ranks 0 .. N−1, started by `mpirun -np N`) each hold the whole model
/// and compute gradients on their own share of the batch. Everything they need from each other
/// is a few collectives over the one gradient (or parameter) buffer, cut into pieces by a
/// Partition (partition.h):
///
///  - reduce:      the owner of each piece gets the sum over all ranks of that piece;
///  - all-gather:  every owner's piece is copied to every rank;
///  - all-reduce:  reduce, then all-gather: every rank holds the sum of everything;
///  - broadcast, barrier, and an all-gather of a few host values (losses, norms, hashes).
///
/// **The sum is in rank order.** Float addition is not associative, so "the sum" is only defined
/// once its order is. Every implementation computes, for every element i of rank r's piece,
///
///     acc[i] = ((b_0[i] + b_1[i]) + b_2[i]) + ... + b_{N−1}[i]
///
/// where b_q is rank q's buffer: exactly what one process adding the N buffers in rank order
/// computes, the same bits run after run, whatever the timing of the messages. (MPI_Allreduce
/// and ncclAllReduce promise neither: the order depends on the algorithm the library picks for
/// the message size and topology.) With `accumulate`, the sum goes on from what acc holds:
/// acc[i] = ((acc[i] + b_0[i]) + b_1[i]) + ..., which is how several micro-batches per rank are
/// summed in the same order as one process would (data_parallel.h).
///
/// Buffers are host memory for MPI and LocalCommunicator, device memory for NCCL; the "host
/// values" of all_gather() are host memory for all. Every rank must call the collectives in the
/// same order with the same partitions (as with MPI itself).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "chapters/11_distributed/partition.h"

namespace gpt2 {

/// A collective that has been started and has not finished yet.
class PendingCollective {
 public:
  virtual ~PendingCollective() = default;
  /// Makes what progress it can without blocking; true once everything is done.
  virtual bool test() = 0;
  /// Blocks until everything is done.
  virtual void wait() = 0;
};

/// The ranks of one job, seen from one of them.
class Communicator {
 public:
  virtual ~Communicator() = default;

  /// This rank, 0 .. size() − 1.
  virtual int rank() const = 0;
  /// The number of ranks N.
  virtual int size() const = 0;
  /// Where this rank runs, for messages: "rank 1 of 2 (host node7, pid 4242)".
  virtual std::string where() const = 0;
  /// True when the float buffers of the collectives are device memory (NCCL), false for host
  /// memory: a model's gradients must live where its communicator can read them.
  virtual bool device_memory() const { return false; }

  /// Starts the reduction of `buf` over `pieces`: on return of wait(), for the owner r = rank()
  /// and every i in pieces.piece(r),
  ///   acc[i − piece.begin] = (acc[i − piece.begin] +) b_0[i] + b_1[i] + ... + b_{N−1}[i]
  /// added left to right (the parenthesised term only with `accumulate`). `acc` holds
  /// pieces.piece(rank()).size() floats. The other pieces of buf are sent to their owners. Neither
  /// buf nor acc may change until the collective has finished.
  virtual std::unique_ptr<PendingCollective> start_reduce(const float* buf, const Partition& pieces,
                                                          float* acc, bool accumulate) = 0;
  /// Starts the all-gather of `buf` over `pieces`: piece rank() of buf is set from `mine`
  /// (piece-sized, may be the piece itself) and sent to every rank; every other piece of buf is
  /// received from its owner.
  virtual std::unique_ptr<PendingCollective> start_all_gather(float* buf, const Partition& pieces,
                                                              const float* mine) = 0;
  /// buf (n floats) on every rank becomes rank `root`'s.
  virtual void broadcast(float* buf, size_t n, int root) = 0;
  /// Waits until every rank has called barrier().
  virtual void barrier() = 0;

  /// The blocking forms.
  void reduce(const float* buf, const Partition& pieces, float* acc, bool accumulate) {
    start_reduce(buf, pieces, acc, accumulate)->wait();
  }
  void all_gather(float* buf, const Partition& pieces, const float* mine) {
    start_all_gather(buf, pieces, mine)->wait();
  }
  /// buf (n floats) ← the sum over ranks in rank order, on every rank: a reduce and an
  /// all-gather over Partition::split({0, n}, size()).
  virtual void all_reduce_sum(float* buf, size_t n) = 0;

  /// Every rank's `mine` (host memory, the same length on every rank), gathered in rank order onto
  /// every rank: result[r * mine.size() + i] is rank r's mine[i].
  template <typename T>
  std::vector<T> all_gather_values(std::span<const T> mine) {
    static_assert(std::is_trivially_copyable_v<T>);
    std::vector<T> all(mine.size() * static_cast<size_t>(size()));
    all_gather_bytes(mine.data(), mine.size_bytes(), all.data());
    return all;
  }

 protected:
  /// `bytes` bytes from every rank into all (size() · bytes bytes, rank order); host memory.
  virtual void all_gather_bytes(const void* mine, size_t bytes, void* all) = 0;
};

/// The job of one process: rank 0 of 1. A reduce copies (or adds) the buffer into acc, an
/// all-gather copies `mine` into its piece. Training with it is ordinary one-process training.
class LocalCommunicator : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string where() const override { return "rank 0 of 1"; }
  std::unique_ptr<PendingCollective> start_reduce(const float* buf, const Partition& pieces, float* acc,
                                                  bool accumulate) override;
  std::unique_ptr<PendingCollective> start_all_gather(float* buf, const Partition& pieces,
                                                      const float* mine) override;
  void broadcast(float*, size_t, int root) override;
  void barrier() override {}
  void all_reduce_sum(float*, size_t) override {}

 protected:
  void all_gather_bytes(const void* mine, size_t bytes, void* all) override;
};

/// The number of processes an MPI launcher started this one among, as the launcher announces it
/// in the environment (OpenMPI's mpirun, MPICH's Hydra; 1 for a PMIx launcher, which does not
/// say), or 0 when none did. Needs no MPI: a build without it can still tell that it was started
/// as one of several.
int launcher_world_size();

/// Throws gpt2::Error unless `pieces` is cut for the communicator's size(): "<what> on <where>:
/// the partition has 3 pieces for 2 ranks".
void check_pieces(const Communicator& comm, const Partition& pieces, const char* what);

/// acc[i] = (accumulate ? acc[i] + x[i] : x[i]) for i < n: one term of the rank-order sum, the
/// loop every host-memory communicator uses.
void add_term(float* acc, const float* x, size_t n, bool accumulate);

}  // namespace gpt2
