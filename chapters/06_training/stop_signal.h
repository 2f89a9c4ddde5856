/// @file stop_signal.h
/// @brief Ctrl-C as a request: the SIGINT handler only sets a flag, the training loop checks it
/// after each step, saves a checkpoint and returns.
///
/// A signal handler may do almost nothing safely (no allocation, no file I/O): writing a
/// `volatile std::sig_atomic_t` is the one thing the C++ standard guarantees. So the handler sets
/// the flag and the loop, at a point where the model and optimizer are consistent, does the work.
/// A second Ctrl-C while the flag is already set restores the default action, so a stuck program
/// can still be killed.
#pragma once

namespace gpt2 {

/// True once SIGINT arrived (or request_stop() was called) since the last clear_stop_request().
bool stop_requested();
/// Sets the flag as SIGINT would (for tests and for programs that stop for other reasons).
void request_stop();
/// Clears the flag.
void clear_stop_request();

/// Installs the SIGINT handler for its lifetime and puts the previous one back afterwards.
class ScopedStopHandler {
 public:
  ScopedStopHandler();
  ~ScopedStopHandler();
  ScopedStopHandler(const ScopedStopHandler&) = delete;
  ScopedStopHandler& operator=(const ScopedStopHandler&) = delete;

 private:
  void (*previous_)(int);
};

}  // namespace gpt2
