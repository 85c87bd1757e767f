// The relay at the heart of kata-shim: one shim per container process, standing in for that
// process on the host. Output is pulled with ReadStdout/ReadStderr, input pushed with
// WriteStdin (CloseStdin at EOF), signals forwarded with SignalProcess, the window size with
// TtyWinResize, and the exit status taken from WaitProcess.
//
// Threads: one per output stream, one for stdin, one for WaitProcess, one for signals; each
// makes blocking unary calls. As upstream's kata-shim, WaitProcess is asked only once stdout and
// stderr have ended: upstream's agent forgets a process (and drops its unread output) when it
// answers WaitProcess. A stream ends with the agent's end-of-stream answer (ours and upstream's,
// protocols/agent_wire.h, or an empty OK reply of older agents) or NOT_FOUND (the process is
// gone). run() returns once the process's status is known, or when the agent has been
// unreachable for retryTimeout. Our agent ends the output of an exited process even when a
// background child holds it (Process::kOutputGrace); upstream's does not.
#pragma once

#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "lib/result.h"
#include "lib/unique_fd.h"
#include "shim/agent_connection.h"

namespace kata::shim {

/// Exit status when the agent cannot be reached (or refuses to wait for the process).
inline constexpr int kExitAgentLost = 255;

struct WatchedProcess {
  int pidfd = -1;    // inherited, open for the shim's whole life
  std::string name;  // for the message: "QEMU", "kata-proxy"
};

struct ShimConfig {
  std::string container;
  std::string execId;
  bool terminal = false;      // stdout only (the guest pty merges stderr); stdin raw; resize
  bool proxyExitCode = true;  // false: exit 0 whatever the process's status
  int stdinFd = 0;
  int stdoutFd = 1;
  int stderrFd = 2;
  /// Bytes asked for per ReadStdout/ReadStderr: large, since each call is a round trip into the
  /// VM (measured in docs/performance.md).
  size_t readSize = 1 << 20;
  size_t stdinChunk = 64 * 1024;  // bytes read from our stdin per WriteStdin
  /// How long the agent may stay unreachable (proxy restarting), or keep failing reads, before
  /// the shim gives up.
  std::chrono::milliseconds retryTimeout{20000};
  /// A file whose pages this process maps (its own binary) to hand back to the page cache once
  /// the relay has run for `startupPagesAfter`: most of the shim's code (gRPC's set-up of the
  /// channel and connection) runs only at start, yet would stay mapped, and counted, for the
  /// container's whole life. What the relay still uses comes back on its next touch. Empty:
  /// keep everything mapped.
  std::string startupPagesFile;
  std::chrono::milliseconds startupPagesAfter{5000};
  /// Signals to read from a signalfd and forward; they must be blocked in every thread
  /// (see blockForwardedSignals()). nullopt: no signal thread.
  std::optional<sigset_t> forwardedSignals;
  /// Processes the agent cannot be reached without (the sandbox's QEMU and kata-proxy), as
  /// pidfds: when one exits, the shim gives up at once, naming it, instead of retrying for
  /// retryTimeout (nothing restarts them), so that Docker sees the container exit.
  std::vector<WatchedProcess> watched;
  /// Set (init process only): the shim asks the agent for its container's OOM events
  /// (GetOOMEvent) and calls this for each (shim/oom_relay.h). An exit by SIGKILL waits
  /// briefly for an OOM event that is under way, so that it is reported before the exit.
  std::function<Status()> relayOom;
};

class Shim {
 public:
  Shim(ShimConfig config, Dialer dialer);
  ~Shim();  // stops and joins any thread still running
  Shim(const Shim&) = delete;
  Shim& operator=(const Shim&) = delete;

  /// Relays until done (see the top of this file) and returns the status the shim must exit
  /// with: the process's status (128+signal when killed), 0 without proxyExitCode, or
  /// kExitAgentLost. Call once.
  int run();

  /// What a forwarded signal does: SIGWINCH -> resizeTty() in terminal mode (dropped
  /// otherwise), anything else -> SignalProcess. Used by the signal thread.
  Status handleSignal(int sig);
  /// Sends the window size of stdin to the agent (TtyWinResize). No-op for an empty size.
  Status resizeTty();

  /// Why the shim gave up (empty unless run() returned kExitAgentLost).
  std::string fatalError() const;

  /// Ends run() early, from another thread, leaving the process as it is: run() returns
  /// kExitAgentLost (the shim v2 stops the relays of a container it removes).
  void cancel();

 private:
  enum class Outcome { Ok, Failed, Stopped };
  template <class Req, class Resp>
  using Method = ::grpc::Status (::grpc::AgentService::Stub::*)(::grpc::ClientContext*, const Req&,
                                                                Resp*);
  /// One unary call, retried across reconnections for up to retryTimeout (then fatal). Ok,
  /// Failed (the agent answered an error, stored in `failure`), or Stopped.
  template <class Req, class Resp>
  Outcome call(const char* what, Method<Req, Resp> method, const Req& req, Resp* resp,
               ::grpc::Status* failure);
  /// Pages out this process's mappings of config.startupPagesFile (see ShimConfig).
  void releaseStartupPages();

  void outputLoop(bool isStderr);
  void stdinLoop();
  void waitLoop();
  void signalLoop(UniqueFd signalFd);
  void watchLoop();
  void oomLoop();

  void setFatal(std::string message);
  bool stopping() const;
  /// Sleeps `d` unless the shim is stopping; returns false when it is.
  bool sleepUnlessStopping(std::chrono::milliseconds d);
  void stopAll();

  ShimConfig config_;
  AgentConnection connection_;
  UniqueFd stopEvent_;  // eventfd: readable once stopping, wakes polls

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool ran_ = false;
  std::optional<int> exitStatus_;
  int openOutputs_ = 0;
  bool oomRelaying_ = false;  // an OOM event arrived and its relay runs
  bool oomRelayed_ = false;
  std::string fatal_;
  std::set<::grpc::ClientContext*> inFlight_;
  std::vector<std::thread> threads_;
};

}  // namespace kata::shim
