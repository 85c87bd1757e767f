// One process of a container (its init or an exec'd one), agent side: pid, stdio streams and
// exit status. As with upstream's agent, a process is forgotten once WaitProcess has returned its
// status; we wait for its output to be drained as well, so a caller that waits before it reads
// loses nothing (upstream's closes the output then). Until then WaitProcess may be called before
// or after the exit, by any number of callers.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "agent/stdio.h"
#include "lib/result.h"

namespace kata::agent {

class Process {
 public:
  /// How long output may stay open after the process exited (a background child holding it).
  static constexpr std::chrono::milliseconds kOutputGrace{5000};

  Process(std::string execId, bool terminal) : execId_(std::move(execId)), terminal_(terminal) {}
  ~Process();

  const std::string& execId() const { return execId_; }
  bool terminal() const { return terminal_; }
  pid_t pid() const;
  void setPid(pid_t pid);

  /// Takes the agent side of `stdio` and starts pumping the output.
  void attachStdio(StdioPair& stdio);
  OutputStream* stdoutStream() { return stdout_.get(); }
  OutputStream* stderrStream() { return stderr_.get(); }
  InputStream* stdinStream() { return stdin_.get(); }
  /// The pty master, -1 without a terminal.
  int ptyMaster() const { return ptyMaster_.get(); }

  /// From the reaper: the waitpid status.
  void markExited(int waitStatus);
  bool exited() const;
  /// Exit code (128+n when killed by signal n), once exited.
  std::optional<int> exitCode() const;
  /// Blocks until the process exits or `cancelled` (nullopt then).
  std::optional<int> waitExit(const CancelCheck& cancelled);
  /// Blocks at most `ms` milliseconds; true when exited.
  bool waitExitFor(int ms);
  /// Sends a signal; ESRCH error once the process has exited.
  Status signal(int sig);
  /// WaitProcess returned the status to a caller.
  void markWaited();
  /// Its status was returned and its output read to the end: nothing is left to ask for.
  bool finished() const;
  /// Stops the stdio pumps and wakes blocked writers.
  void stopStdio();

 private:
  /// Starts the output streams' grace period (mu_ held).
  void outputGraceStarts();

  const std::string execId_;
  const bool terminal_;
  mutable std::mutex mu_;
  std::condition_variable exitCv_;
  pid_t pid_ = -1;
  bool exited_ = false;
  bool waited_ = false;
  int exitCode_ = 0;
  std::unique_ptr<OutputStream> stdout_, stderr_;
  std::unique_ptr<InputStream> stdin_;
  UniqueFd ptyMaster_;
};

/// The shell convention for a waitpid status: exit code, or 128 + signal.
int exitCodeOf(int waitStatus);

}  // namespace kata::agent
