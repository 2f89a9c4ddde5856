#include "stop_signal.h"

#include <csignal>

namespace gpt2 {

namespace {
volatile std::sig_atomic_t g_stop = 0;

extern "C" void on_sigint(int) {
  if (g_stop) std::signal(SIGINT, SIG_DFL);  // second Ctrl-C: the next one kills the program
  g_stop = 1;
}
}  // namespace

bool stop_requested() {
  return g_stop != 0;
}
void request_stop() {
  g_stop = 1;
}
void clear_stop_request() {
  g_stop = 0;
}

ScopedStopHandler::ScopedStopHandler() {
  previous_ = std::signal(SIGINT, on_sigint);
}
ScopedStopHandler::~ScopedStopHandler() {
  std::signal(SIGINT, previous_ == SIG_ERR ? SIG_DFL : previous_);
}

}  // namespace gpt2
