/// @file watchdog.h
/// @brief A thread that ends the process when a wait for the other ranks lasts too long.
///
/// What stops a data-parallel job when one rank goes wrong:
///
///  - **a rank fails with an error** (a bad file, out of memory, a failed MPI call): it prints
///    the error naming itself and calls MPI_Abort (mpi_communicator.h's run_rank()), and mpirun
///    kills every other rank;
///  - **a rank dies** (SIGKILL, a segfault, the OOM killer): mpirun is the parent of its ranks
///    (through its daemons on other machines), sees the child die, prints "mpirun noticed that
///    process rank 1 ... exited on signal 9 (Killed)" and kills the others;
///  - **a rank hangs** (stuck on a dead network file system, stopped with SIGSTOP, a machine
///    that no longer answers): nothing dies, so nobody notices, and the other ranks would wait in
///    their next collective forever. This watchdog is for that case: every blocking wait of the
///    communicator is watched, and when one lasts longer than the timeout the watchdog prints
///    which rank waited, in which collective, for how long, and ends the process (exit status
///    124); mpirun then stops the rest as for a dead rank.
///
/// The timeout must be longer than any legitimate wait: while rank 0 writes a checkpoint the
/// others wait at the next collective. The thread never calls MPI (MPI is initialised for calls
/// from the main thread only).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace gpt2 {

/// The exit status of a process the watchdog ended (that of coreutils' `timeout`).
inline constexpr int kWatchdogExitCode = 124;

class Watchdog {
 public:
  /// Called with the message when a wait has lasted longer than the timeout. The default prints
  /// it on stderr and ends the process with kWatchdogExitCode.
  using OnTimeout = std::function<void(const std::string& message)>;

  /// `who` names this rank in the message ("rank 1 of 2 (host h, pid p)"); timeout_seconds <= 0
  /// turns the watchdog off.
  Watchdog(double timeout_seconds, std::string who, OnTimeout on_timeout = {});
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  /// While a Guard lives, this rank is waiting in collective `what` (a string literal).
  class Guard {
   public:
    explicit Guard(Watchdog* dog, const char* what);
    ~Guard();
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    Watchdog* dog_;
  };
  Guard watch(const char* what) { return Guard(timeout_seconds_ > 0 ? this : nullptr, what); }

  double timeout_seconds() const { return timeout_seconds_; }

 private:
  void run();

  double timeout_seconds_;
  std::string who_;
  OnTimeout on_timeout_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  int depth_ = 0;               // nested guards: only the outermost one counts
  const char* what_ = nullptr;  // the collective being waited for
  bool fired_ = false;          // the timeout of this wait has been reported
  std::chrono::steady_clock::time_point since_;
  std::thread thread_;
};

}  // namespace gpt2
