// Pipes and a reader thread, for tests that stand in for the shim's caller (its stdio).
// Shared by the shim's unit and component tests.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <thread>

#include "lib/unique_fd.h"

namespace kata::shim::testing {

/// A pipe, both ends O_CLOEXEC (children get them only through dup2).
struct Pipe {
  UniqueFd r, w;
  static Pipe make() {
    int p[2] = {-1, -1};
    if (::pipe2(p, O_CLOEXEC) != 0) return {};
    return {UniqueFd(p[0]), UniqueFd(p[1])};
  }
};

/// Reads a descriptor until EOF on its own thread.
class Collector {
 public:
  explicit Collector(int fd)
      : fd_(fd), thread_([this] {
          char buf[65536];
          for (;;) {
            ssize_t n = ::read(fd_, buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            data_.append(buf, static_cast<size_t>(n));
          }
        }) {}
  ~Collector() {
    if (thread_.joinable()) thread_.join();
  }
  /// Waits for EOF (the caller must have closed every write end) and returns what was read.
  std::string finish() {
    if (thread_.joinable()) thread_.join();
    return data_;
  }

 private:
  int fd_;
  std::string data_;
  std::thread thread_;
};

}  // namespace kata::shim::testing
