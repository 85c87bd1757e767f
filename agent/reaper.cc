#include "agent/reaper.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include "lib/log.h"

namespace kata::agent {

Reaper::~Reaper() { stop(); }

Status Reaper::start() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  signalFd_.reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!signalFd_) return sysError("signalfd(SIGCHLD)");
  wakeFd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wakeFd_) return sysError("eventfd");
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
  return okStatus();
}

void Reaper::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  uint64_t one = 1;
  (void)!::write(wakeFd_.get(), &one, sizeof one);
  thread_.join();
}

void Reaper::watch(const std::unique_lock<std::mutex>& held, pid_t pid, ExitCallback onExit) {
  (void)held;
  watched_[pid] = std::move(onExit);
}

void Reaper::reapNow() {
  std::vector<std::pair<ExitCallback, int>> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (;;) {
      int status = 0;
      pid_t pid = ::waitpid(-1, &status, WNOHANG | __WALL);
      if (pid <= 0) break;
      auto it = watched_.find(pid);
      if (it == watched_.end()) {
        ++orphans_;
        continue;
      }
      done.emplace_back(std::move(it->second), status);
      watched_.erase(it);
    }
  }
  // Callbacks run without the lock: they may take other locks that a spawner holds while it
  // waits for spawnLock().
  for (auto& [callback, status] : done) callback(status);
}

void Reaper::loop() {
  while (!stopping_) {
    pollfd fds[2] = {{signalFd_.get(), POLLIN, 0}, {wakeFd_.get(), POLLIN, 0}};
    ::poll(fds, 2, 100);
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo info;
      while (::read(signalFd_.get(), &info, sizeof info) == sizeof info) {
      }
    }
    reapNow();
  }
}

void blockAgentSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, sig);
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // A write to the pipe of a process that exited must be an EPIPE error, not our death.
  ::signal(SIGPIPE, SIG_IGN);
}

void resetSignalsInChild() {
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    ::signal(sig, SIG_DFL);
  }
  sigset_t empty;
  sigemptyset(&empty);
  ::sigprocmask(SIG_SETMASK, &empty, nullptr);
}

}  // namespace kata::agent
