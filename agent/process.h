// One process of a container (its init or an exec'd one), agent side: pid, stdio streams and
// exit status. The status is kept until the container is removed, so WaitProcess may be called
// before or after the exit, by any number of callers.
#pragma once

#include <sys/types.h>

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
  /// Stops the stdio pumps and wakes blocked writers.
  void stopStdio();

 private:
  const std::string execId_;
  const bool terminal_;
  mutable std::mutex mu_;
  std::condition_variable exitCv_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int exitCode_ = 0;
  std::unique_ptr<OutputStream> stdout_, stderr_;
  std::unique_ptr<InputStream> stdin_;
  UniqueFd ptyMaster_;
};

/// The shell convention for a waitpid status: exit code, or 128 + signal.
int exitCodeOf(int waitStatus);

}  // namespace kata::agent
