// The one place that collects exit statuses. As PID 1 (or a child subreaper on the host) the
// agent inherits every orphan of every container, so a single thread waits for all children
// with waitpid(-1): statuses of processes someone registered go to their callback, the rest are
// orphans and are just reaped.
//
// Registration races with reaping (a process may exit before its spawner learns its pid), so
// spawning happens under spawnLock(): the reaper cannot reap while it is held, and the spawner
// registers the new pid before releasing it.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "lib/result.h"
#include "lib/unique_fd.h"

namespace kata::agent {

class Reaper {
 public:
  using ExitCallback = std::function<void(int waitStatus)>;

  Reaper() = default;
  ~Reaper();
  Reaper(const Reaper&) = delete;
  Reaper& operator=(const Reaper&) = delete;

  /// Starts the reaping thread. SIGCHLD should be blocked in every thread (see
  /// blockAgentSignals); the thread also polls every 100 ms in case it is not.
  Status start();
  void stop();

  /// Held while forking a process whose pid will be registered with watch().
  std::unique_lock<std::mutex> spawnLock() { return std::unique_lock<std::mutex>(mu_); }
  /// Registers `pid`; `onExit` runs on the reaper thread with the waitpid status. The caller
  /// must hold spawnLock() (pass it to prove it).
  void watch(const std::unique_lock<std::mutex>& held, pid_t pid, ExitCallback onExit);
  /// Reaps whatever has exited now (also called by the thread).
  void reapNow();

  /// How many orphans (unregistered children) were reaped, for tests and logs.
  uint64_t orphansReaped() const { return orphans_.load(); }

 private:
  void loop();

  std::mutex mu_;
  std::map<pid_t, ExitCallback> watched_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> orphans_{0};
  UniqueFd signalFd_;
  UniqueFd wakeFd_;
};

/// Blocks SIGCHLD, SIGTERM, SIGINT and SIGHUP in the calling thread (call in main before any
/// thread exists so that all threads inherit it) and ignores SIGPIPE. Children undo this with
/// resetSignalsInChild().
void blockAgentSignals();
/// Restores default dispositions and an empty signal mask (in a forked child before exec).
void resetSignalsInChild();

}  // namespace kata::agent
