// The model's job queue: see serve_queue.h.
#include "chapters/12_gpt2/serve_queue.h"

#include <chrono>
#include <exception>

namespace gpt2 {

bool Job::run(const std::function<std::string(const std::string&)>& on_error) {
  started_ = true;
  try {
    work_(*this);
  } catch (const std::exception& e) {
    send(on_error(e.what()));
  }
  std::lock_guard lock(mutex_);
  finished_ = true;
  changed_.notify_all();
  return cancelled_;
}

void Job::send(std::string piece) {
  std::unique_lock lock(mutex_);
  // A client that reads more slowly than the model writes holds the worker here, instead of
  // making the output grow without bound (a client that stops reading is cut off by the HTTP
  // write timeout, which cancels the job).
  changed_.wait(lock, [&] { return out_.size() < kMaxPending || cancelled_; });
  if (cancelled_) return;  // nobody will read it
  out_.push_back(std::move(piece));
  changed_.notify_all();
}

void Job::cancel() {
  std::lock_guard lock(mutex_);
  if (!finished_) cancelled_ = true;  // a finished job stays "completed", not "cancelled"
  changed_.notify_all();
}

void Job::next(std::deque<std::string>& pieces, bool& done, int timeout_ms) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return !out_.empty() || finished_; });
  pieces.clear();
  pieces.swap(out_);
  done = finished_;
  changed_.notify_all();  // room again for a worker waiting in send()
}

JobQueue::JobQueue(int max_waiting, std::function<std::string(const std::string&)> on_error)
    : max_waiting_(max_waiting), on_error_(std::move(on_error)), thread_([this] { worker(); }) {}

JobQueue::~JobQueue() {
  stop();
  thread_.join();
}

bool JobQueue::submit(std::shared_ptr<Job> job) {
  std::lock_guard lock(mutex_);
  if (stopping_ || static_cast<int>(waiting_.size()) >= max_waiting_ + (running_ ? 0 : 1)) return false;
  waiting_.push_back(std::move(job));
  wake_.notify_one();
  return true;
}

void JobQueue::stop() {
  std::lock_guard lock(mutex_);
  stopping_ = true;
  if (running_) running_->cancel();
  for (auto& job : waiting_) job->cancel();
  wake_.notify_one();
}

int JobQueue::waiting() const {
  std::lock_guard lock(mutex_);
  return static_cast<int>(waiting_.size());
}

void JobQueue::worker() {
  while (true) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock lock(mutex_);
      running_.reset();
      wake_.wait(lock, [&] { return stopping_ || !waiting_.empty(); });
      if (waiting_.empty()) return;  // stopping, and nothing left to finish
      job = std::move(waiting_.front());
      waiting_.pop_front();
      running_ = job;
    }
    if (job->cancelled()) {
      // Its client went away while it waited: skip the work, but let its HTTP thread finish.
      ++cancelled_;
      std::lock_guard lock(job->mutex_);
      job->finished_ = true;
      job->changed_.notify_all();
      continue;
    }
    if (job->run(on_error_)) ++cancelled_;
    ++completed_;
  }
}

}  // namespace gpt2
