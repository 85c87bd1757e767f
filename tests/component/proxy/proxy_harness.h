// Test fixtures for kata-proxy: a stand-in for the guest side (QEMU's chardev sockets with a
// yamux server behind them, using the project's own lib/yamux_bridge) and the real kata-proxy
// binary run as a child process. Shared by the component tests and tests/bench/proxy_bench.cc.
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "lib/unique_fd.h"
#include "lib/yamux_mux.h"

namespace kata::testing {

/// What the fake agent does with each stream: runs on its own thread with a blocking socket,
/// like one gRPC connection; must return at EOF or on an error.
using Service = std::function<void(int fd)>;

void echoService(int fd);

/// Listens on <dir>/kata.sock (agent channel) and <dir>/console.sock (guest console) as QEMU
/// does, and serves yamux on the first connection to kata.sock.
class FakeAgent {
 public:
  enum class Mode { Serve, Garbage };
  FakeAgent(const std::string& dir, Mode mode, Service service);
  ~FakeAgent();

  std::string muxPath() const { return dir_ + "/kata.sock"; }
  std::string consolePath() const { return dir_ + "/console.sock"; }
  /// Starts listening (call late to test the proxy's connect retry).
  void listen();
  /// Closes the agent channel abruptly, without go-away (the VM died).
  void dropConnection();
  /// Writes to the guest console once the proxy connected to it (waits up to 5 s).
  bool writeConsole(const std::string& text);

  std::atomic<bool> connected{false};
  std::atomic<bool> sessionClosed{false};
  std::atomic<uint64_t> pingsReceived{0};
  std::atomic<int> streamsServed{0};
  std::string closeReason() {
    std::lock_guard l(mu_);
    return closeReason_;
  }
  /// Bytes the proxy sent back after Garbage mode's garbage.
  std::string garbageReply() {
    std::lock_guard l(mu_);
    return garbageReply_;
  }

 private:
  void runLoop();
  void onMuxConnection();
  void onAsync();

  std::string dir_;
  Mode mode_;
  Service service_;
  uv_loop_t loop_;
  uv_async_t async_;
  std::atomic<bool> dropRequested_{false};
  std::atomic<bool> stopRequested_{false};
  UniqueFd muxListen_, consoleListen_, consoleConn_;
  std::unique_ptr<uv::Poll> muxListenPoll_;
  std::unique_ptr<uv::Timer> statsTimer_;
  std::unique_ptr<yamux::Mux> mux_;
  UniqueFd garbageConn_;
  std::thread loopThread_;
  std::mutex mu_;
  std::string closeReason_, garbageReply_;
  std::vector<std::thread> serviceThreads_;
};

/// The kata-proxy binary as a child process; stderr goes to a file.
class ProxyProcess {
 public:
  /// `extraEnv` ("K=V") is added to the test's environment; `fd3` (when >= 0) becomes the
  /// proxy's fd 3.
  ProxyProcess(const std::string& binary, const std::vector<std::string>& args,
               const std::string& stderrPath, const std::vector<std::string>& extraEnv = {},
               int fd3 = -1);
  ~ProxyProcess();  // SIGKILL if still running
  pid_t pid() const { return pid_; }
  void signal(int sig);
  /// Exit status, or -1 when it did not exit within `ms` (-2: killed by a signal).
  int wait(int ms);
  bool running();

 private:
  pid_t pid_ = -1;
  int status_ = -1;
};

/// Connects to a unix socket, waiting up to `ms` for it to appear. Invalid fd on failure.
UniqueFd connectWithRetry(const std::string& path, int ms);
std::string readFile(const std::string& path);
/// Proxy-independent helpers for byte streams.
bool writeAll(int fd, const void* data, size_t size);
uint8_t patternByte(uint64_t i, uint32_t seed);
/// RSS of a process in KiB.
long rssKiB(pid_t pid);

}  // namespace kata::testing
