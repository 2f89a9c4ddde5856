/// @file mpi_communicator.h
/// @brief The Communicator over MPI (OpenMPI on Debian: `mpirun -np N program`), with every MPI
/// call checked and a job that stops, naming the rank and the cause, when one rank fails.
///
/// Usage, in a program started by mpirun:
/// @code
///   int main(int argc, char** argv) {
///     gpt2::MpiSession mpi(&argc, &argv);   // MPI_Init ... MPI_Finalize
///     gpt2::MpiCommunicator comm;           // MPI_COMM_WORLD, watched by a Watchdog
///     return gpt2::run_rank(comm, [&] {     // an exception on any rank stops the whole job
///       std::vector<float> grads = ...;
///       comm.all_reduce_sum(grads.data(), grads.size());   // rank-order sum on every rank
///       return 0;
///     });
///   }
/// @endcode
///
/// **How the rank-order sum is computed.** A reduce over a Partition is "every rank sends each
/// owner its piece; each owner adds the N contributions in rank order". Rank r posts one
/// MPI_Irecv per other rank into a staging buffer (N − 1 pieces) and one MPI_Isend of piece q to
/// each owner q; then it adds the contributions into acc in the order q = 0, 1, ..., N − 1,
/// waiting for contribution q (MPI_Wait, or MPI_Test when polled) before adding it, its own piece
/// taken from buf when q = r. The messages may arrive in any order; the additions happen in one.
/// Each rank sends (N − 1)/N of the buffer and receives as much, the volume of the ring's
/// reduce-scatter (ring_allreduce.h), in one round of N − 1 simultaneous messages instead of
/// N − 1 rounds. The all-gather is MPI_Iallgatherv (copying is exact in any order).
///
/// **Errors.** The communicator is a duplicate of the given one with MPI_ERRORS_RETURN, so a
/// failing call returns its code and check_mpi() throws gpt2::Error naming the call, the rank
/// and MPI's reason. run_rank() turns any exception into a message on stderr and MPI_Abort, so
/// the other ranks do not wait for this one forever. See watchdog.h for the other faults.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "chapters/11_distributed/communicator.h"
#include "chapters/11_distributed/watchdog.h"

namespace gpt2 {

/// Throws gpt2::Error "MPI_Isend failed on rank 1 of 2 (host h, pid p): <MPI's reason>" unless
/// rc == MPI_SUCCESS.
void check_mpi(int rc, const char* call, const std::string& where);

/// MPI for the whole process: MPI_Init_thread in the constructor, MPI_Finalize in the destructor.
/// One per process, first thing in main(). It asks for MPI_THREAD_MULTIPLE, so that a progress
/// thread (MpiCommunicator) may call MPI beside the main thread; an MPI that offers only
/// MPI_THREAD_FUNNELED (MPI from the main thread alone) still works, without that thread.
class MpiSession {
 public:
  MpiSession(int* argc, char*** argv);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  /// True when this process was started by mpirun (OpenMPI, MPICH) or a PMIx launcher, so a
  /// program can decide whether to initialise MPI at all.
  static bool launched_by_mpirun();
};

class ProgressThread;

/// How long a wait for the other ranks may last before the watchdog stops the job.
inline constexpr double kDefaultRankTimeoutSeconds = 300;

/// **Progress.** MPI moves a message on only while some thread is inside an MPI call: a large
/// message is a handshake (the sender announces it, the receiver copies it, the sender is told),
/// and each step waits for the next call on that side. A training step that calls MPI only
/// between layers would leave the reduces it started during backward mostly where they were
/// until backward ends. So, when MPI offers MPI_THREAD_MULTIPLE, the communicator keeps a
/// progress thread: while any collective of it is in flight, the thread enters MPI every
/// kProgressMicroseconds (MPI_Iprobe on a communicator of its own, where nothing is ever sent)
/// and sleeps in between. It never touches a collective's own state: the additions of the
/// rank-order sum still happen in the thread that tests or waits.
inline constexpr int kProgressMicroseconds = 100;

class MpiCommunicator : public Communicator {
 public:
  /// Duplicates `comm` (so this communicator's messages never meet anyone else's) and watches
  /// every blocking wait with a Watchdog of `timeout_seconds` (<= 0: no watchdog).
  explicit MpiCommunicator(MPI_Comm comm = MPI_COMM_WORLD,
                           double timeout_seconds = kDefaultRankTimeoutSeconds);
  ~MpiCommunicator() override;
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string where() const override { return where_; }

  std::unique_ptr<PendingCollective> start_reduce(const float* buf, const Partition& pieces, float* acc,
                                                  bool accumulate) override;
  std::unique_ptr<PendingCollective> start_all_gather(float* buf, const Partition& pieces,
                                                      const float* mine) override;
  void broadcast(float* buf, size_t n, int root) override;
  void barrier() override;
  void all_reduce_sum(float* buf, size_t n) override;
  /// Bytes from `root` to every rank (e.g. NCCL's unique id).
  void broadcast_bytes(void* data, size_t bytes, int root);

  /// Prints "error: <where()>: <message>" on stderr and stops the whole job: MPI_Abort with
  /// exit status `code`, which makes mpirun kill every other rank.
  [[noreturn]] void abort_job(const std::string& message, int code = 1);

  /// The MPI communicator itself (a duplicate of the one given).
  MPI_Comm comm() const { return comm_; }
  /// The ranks running on this machine before this one (to pick this rank's GPU).
  int local_rank() const { return local_rank_; }
  /// How many ranks run on this machine.
  int local_size() const { return local_size_; }
  Watchdog& watchdog() { return *watchdog_; }
  /// True when a progress thread moves the messages on between this rank's MPI calls.
  bool has_progress_thread() const { return progress_ != nullptr; }

 protected:
  void all_gather_bytes(const void* mine, size_t bytes, void* all) override;

 private:
  int next_tag();

  MPI_Comm comm_ = MPI_COMM_NULL;
  MPI_Comm progress_comm_ = MPI_COMM_NULL;  // the progress thread's own, for its probes
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
  int tag_ = 0, tag_limit_ = 32767;
  std::string where_;
  std::unique_ptr<Watchdog> watchdog_;
  std::unique_ptr<ProgressThread> progress_;
};

/// Runs body() on this rank and returns its result. If body throws, the error is printed naming
/// the rank ("error: rank 1 of 2 (host h, pid p): cannot open 'x.bin': ...") and the whole job
/// stops (abort_job), instead of the other ranks waiting forever in their next collective.
int run_rank(MpiCommunicator& comm, const std::function<int()>& body);

}  // namespace gpt2
