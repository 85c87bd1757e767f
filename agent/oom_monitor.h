// Out-of-memory events of containers for GetOOMEvent: one cgroup v1 memory.oom_control eventfd
// per container, watched by one thread; events queue up until a GetOOMEvent call takes them.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "agent/stdio.h"
#include "lib/result.h"
#include "lib/unique_fd.h"

namespace kata::agent {

class OomMonitor {
 public:
  static constexpr size_t kMaxQueued = 1024;

  OomMonitor() = default;
  ~OomMonitor();
  OomMonitor(const OomMonitor&) = delete;
  OomMonitor& operator=(const OomMonitor&) = delete;

  /// Watches `eventFd` (from Cgroup::oomEventFd) for `containerId`; starts the thread on first
  /// use. A container already watched is replaced.
  Status watch(const std::string& containerId, UniqueFd eventFd);
  /// Stops watching (before the cgroup is removed: its removal also signals the eventfd).
  void unwatch(const std::string& containerId);
  /// Blocks until a watched container hit OOM and returns its id; nullopt when `cancelled`
  /// says so or the monitor stops. Events that nobody took yet are kept, one per container
  /// (oldest dropped past kMaxQueued).
  std::optional<std::string> next(const CancelCheck& cancelled);
  void stop();

 private:
  void loop();

  std::mutex mu_;
  std::condition_variable cv_;
  UniqueFd epoll_;
  UniqueFd wake_;
  std::map<int, std::pair<std::string, UniqueFd>> watched_;  // eventfd number -> (id, fd)
  std::deque<std::string> events_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace kata::agent
