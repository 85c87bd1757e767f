// Child processes with RAII ownership: a ChildProcess kills and reaps its child when it goes out
// of scope unless release() hands the pid over to someone else. Spawning reports exec failures
// (missing binary, bad cwd) as an Error in the parent instead of a child that dies with 127.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lib/result.h"

namespace kata {

struct SpawnOptions {
  std::vector<std::string> argv;  // argv[0] is the program; a name without '/' is looked up in PATH
  /// When set, the program to exec instead of argv[0], which is then only the name the program
  /// sees (OCI hooks: `path` and `args` as execv takes them; Docker's hook dispatches on it).
  std::string program;
  std::optional<std::vector<std::string>> env;  // "K=V" entries; nullopt inherits the parent's
  int stdinFd = -1;                             // -1 => /dev/null
  int stdoutFd = -1;                            // -1 => /dev/null
  int stderrFd = -1;                            // -1 => /dev/null
  /// Extra descriptors to hand down: parent fd -> fd number in the child. Every other
  /// descriptor above 2 is closed in the child.
  std::vector<std::pair<int, int>> extraFds;
  bool setsid = false;  // new session (detaches from the controlling terminal)
  /// With setsid: stdin, a terminal, becomes the new session's controlling terminal, so that a
  /// resize of it sends the program SIGWINCH (and a hang-up SIGHUP).
  bool controllingTerminal = false;
  std::string cwd;  // empty = inherit
  /// A network namespace (an open nsfs fd) the child enters before exec; -1 = the caller's.
  int netnsFd = -1;
  /// For programs that serve an untrusted guest: capabilities removed from the bounding set
  /// (so that a root program never gets them), then a seccomp program (lib/seccomp_bpf.h)
  /// installed just before exec. Either failing fails the spawn.
  std::vector<int> dropBoundingCaps;
  std::string seccompBpf;
};

class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  /// SIGKILLs and reaps a child still owned (not released, not yet waited for).
  ~ChildProcess();

  /// Forks and execs. Fails (with the exec errno) when the program cannot be started.
  static Result<ChildProcess> spawn(const SpawnOptions& options);
  /// Double fork: the program is re-parented to init (or the nearest subreaper) and outlives
  /// the caller; nobody here waits for it. Returns the grandchild's pid. Exec errors are still
  /// reported as an Error.
  static Result<pid_t> spawnDetached(const SpawnOptions& options);

  pid_t pid() const { return pid_; }
  /// Blocks until the child exits: its exit code, or 128+signal when it was killed.
  Result<int> wait();
  /// Non-blocking wait: nullopt while the child is running.
  Result<std::optional<int>> tryWait();
  /// Sends `sig` to the child (error ESRCH once it has been reaped).
  Status signal(int sig);
  /// Gives up ownership: the destructor no longer kills or reaps. Returns the pid.
  pid_t release();

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;
  bool reaped_ = false;
};

/// Runs argv (stdin /dev/null, stderr discarded) and returns its stdout. Fails when the program
/// cannot start, exits non-zero, or runs longer than `timeoutSec` (it is then killed).
/// Output is capped at 1 MiB.
Result<std::string> runCommand(const std::vector<std::string>& argv, int timeoutSec);

/// This process's environment plus `entries` ("K=V"), for SpawnOptions::env.
std::vector<std::string> environWith(const std::vector<std::string>& entries);

/// True when a process with this pid exists (and is not a zombie).
bool processAlive(pid_t pid);

/// Converts a waitpid status to the shell convention: exit code, or 128+signal.
int exitCodeFromWaitStatus(int status);

}  // namespace kata
