// Running a command (mpirun and its ranks) as a child process group with a hard time limit, its
// stdout and stderr collected: for the tests that start real jobs (chapter 11's faults, chapter
// 12's gpt2 train under mpirun).
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "tests/catch.h"

namespace ch11_test {

struct Outcome {
  int status = -1;         // exit status of mpirun, or 128 + the signal that ended it
  std::string output;      // stdout and stderr of the whole job
  double seconds = 0;      // until mpirun ended and every rank had closed its output
  bool timed_out = false;  // the limit was hit and the job killed
};

// Runs argv with stdout and stderr into one pipe, for at most limit_seconds. While it runs,
// `while_running` (if given) is called every 100 ms or so with the output so far.
inline Outcome run_job(const std::vector<std::string>& argv, double limit_seconds,
                       const std::function<void(const std::string& output)>& while_running = {}) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const auto start = std::chrono::steady_clock::now();
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    setpgid(0, 0);  // its own group, so that a timeout can kill mpirun and everything it started
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    close(fds[0]);
    close(fds[1]);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  setpgid(child, child);
  close(fds[1]);
  Outcome out;
  bool exited = false, eof = false;
  int wstatus = 0;
  while (!(exited && eof)) {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (elapsed > limit_seconds) {
      out.timed_out = true;
      kill(-child, SIGKILL);
      if (!exited) waitpid(child, &wstatus, 0);
      exited = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    if (!eof && poll(&p, 1, 100) > 0) {
      char buf[4096];
      const ssize_t n = read(fds[0], buf, sizeof buf);
      if (n > 0) out.output.append(buf, static_cast<size_t>(n));
      if (n == 0) eof = true;
    } else if (eof) {
      usleep(100 * 1000);
    }
    if (!exited && waitpid(child, &wstatus, WNOHANG) == child) exited = true;
    if (!exited && while_running) while_running(out.output);
  }
  close(fds[0]);
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  return out;
}

// A process that is gone (or a zombie nobody has reaped yet).
inline bool is_gone(pid_t pid) {
  if (kill(pid, 0) != 0) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z';
}

}  // namespace ch11_test
