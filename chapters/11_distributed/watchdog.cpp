#include "watchdog.h"

#include <cstdio>
#include <cstdlib>

#include "common/error.h"

namespace gpt2 {

Watchdog::Watchdog(double timeout_seconds, std::string who, OnTimeout on_timeout)
    : timeout_seconds_(timeout_seconds), who_(std::move(who)), on_timeout_(std::move(on_timeout)) {
  if (!on_timeout_) {
    on_timeout_ = [](const std::string& message) {
      std::fprintf(stderr, "error: %s\n", message.c_str());
      std::fflush(stderr);
      std::_Exit(kWatchdogExitCode);  // not exit(): no destructors that might wait on MPI
    };
  }
  if (timeout_seconds_ > 0) thread_ = std::thread([this] { run(); });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Watchdog::Guard::Guard(Watchdog* dog, const char* what) : dog_(dog) {
  if (!dog_) return;
  std::lock_guard<std::mutex> lock(dog_->mutex_);
  if (dog_->depth_++ == 0) {
    dog_->what_ = what;
    dog_->fired_ = false;
    dog_->since_ = std::chrono::steady_clock::now();
  }
}

Watchdog::Guard::~Guard() {
  if (!dog_) return;
  std::lock_guard<std::mutex> lock(dog_->mutex_);
  --dog_->depth_;
}

void Watchdog::run() {
  const auto timeout = std::chrono::duration<double>(timeout_seconds_);
  // Look a few times per timeout (at least every second), so it fires soon after the limit.
  const auto tick = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::min(std::chrono::duration<double>(1.0), timeout / 4));
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    wake_.wait_for(lock, tick);
    if (stop_ || depth_ == 0 || fired_) continue;
    const std::chrono::duration<double> waited = std::chrono::steady_clock::now() - since_;
    if (waited < timeout) continue;
    const std::string message = cat(who_, ": waited ", static_cast<int>(waited.count()), " s in ", what_,
                                    " for the other ranks (the limit is ", timeout_seconds_,
                                    " s): a rank is stuck or its machine does not answer; stopping the job");
    fired_ = true;  // once per wait
    lock.unlock();
    on_timeout_(message);
    lock.lock();
  }
}

}  // namespace gpt2
