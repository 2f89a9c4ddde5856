/// @file serve_queue.h
/// @brief One worker thread that runs the server's model jobs one at a time, first come first
/// served, with a bounded waiting line and cancellation.
///
/// The model has one activation arena and one KV cache, so two requests cannot run it at once.
/// Each HTTP request that needs the model becomes a Job; the worker runs the jobs in the order
/// they were submitted. At most `max_waiting` jobs wait behind the running one: submit() refuses
/// the next (the server answers 503, "try again later") instead of letting the line, and the
/// time to an answer, grow without bound. A job whose client went away is cancelled: if it is
/// still waiting it is skipped, and if it is running it sees cancelled() and stops early.
///
/// (Batching several requests into one forward pass would serve more clients per second; one at a
/// time keeps the model code of the earlier chapters unchanged.)
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace gpt2 {

/// A piece of work for the worker, and the line through which it answers the HTTP thread.
///
/// The worker calls run() and then finish(); the HTTP thread waits for output with next(). The
/// output is a sequence of strings (the events of a stream, or one whole response body).
class Job {
 public:
  explicit Job(std::function<void(Job&)> work) : work_(std::move(work)) {}

  /// Called by the worker: runs the work, then marks the job finished (also when it throws:
  /// `on_error` turns the exception's message into a last piece of output). Returns whether it
  /// was cancelled before it finished.
  bool run(const std::function<std::string(const std::string&)>& on_error);

  /// Called by the work: appends a piece of output for the client. Waits while kMaxPending
  /// pieces are not yet taken by the HTTP thread; drops the piece once the job is cancelled.
  void send(std::string piece);
  /// Pieces of output that may wait for the HTTP thread (one per token in a stream).
  static constexpr size_t kMaxPending = 64;
  /// Called by the work while it runs: stop early when this is true.
  bool cancelled() const { return cancelled_.load(); }

  /// Called by the HTTP thread: the client went away (or the server is stopping). Does nothing
  /// once the job has finished.
  void cancel();
  /// Called by the HTTP thread: waits up to `timeout_ms` for output, then moves everything sent
  /// since the last call into `pieces` (possibly nothing, on a timeout) and sets `done` once the
  /// job is finished (its output is then all taken).
  void next(std::deque<std::string>& pieces, bool& done, int timeout_ms);
  /// Whether the job has started running.
  bool started() const { return started_.load(); }

 private:
  friend class JobQueue;
  std::function<void(Job&)> work_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::string> out_;
  bool finished_ = false;
  std::atomic<bool> cancelled_{false}, started_{false};
};

class JobQueue {
 public:
  /// Starts the worker. `on_error` turns an exception escaping a job into its last output.
  JobQueue(int max_waiting, std::function<std::string(const std::string&)> on_error);
  /// Cancels every job and joins the worker.
  ~JobQueue();

  /// Adds a job at the end of the line; false (the job is not taken) when max_waiting jobs are
  /// already waiting or the queue is stopping.
  bool submit(std::shared_ptr<Job> job);
  /// Cancels the running job and every waiting one, and refuses new ones.
  void stop();
  /// Jobs waiting (not counting the running one).
  int waiting() const;
  /// Jobs completed (run to the end, cancelled while running, or failed) since the start.
  long long completed() const { return completed_.load(); }
  /// Jobs cancelled, waiting or running, since the start.
  long long cancelled() const { return cancelled_.load(); }

 private:
  void worker();
  const int max_waiting_;
  std::function<std::string(const std::string&)> on_error_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Job>> waiting_;
  std::shared_ptr<Job> running_;
  bool stopping_ = false;
  std::atomic<long long> completed_{0}, cancelled_{0};
  std::thread thread_;
};

}  // namespace gpt2
