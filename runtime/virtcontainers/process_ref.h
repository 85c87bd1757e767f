// A reference to a process we did not fork (QEMU after -daemonize, detached proxy and shims):
// its pid plus its start time, so that a recycled pid is never mistaken for it. Signals go
// through a pidfd, which cannot be redirected to another process once opened.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "lib/result.h"
#include "lib/unique_fd.h"

namespace kata::vc {

struct ProcessRef {
  pid_t pid = 0;
  uint64_t startTime = 0;  // field 22 of /proc/<pid>/stat, clock ticks since boot

  /// The process with this pid now; error when there is none.
  static Result<ProcessRef> of(pid_t pid);
  /// True while this very process exists and has not exited (zombies count as exited).
  bool alive() const;
  /// A pidfd for this very process; an invalid fd when it is gone. Whatever is done through
  /// the pidfd cannot reach a successor that reused the pid.
  Result<UniqueFd> openPidfd() const;
  /// Sends `sig` if the process is still this one; a process that is gone is success.
  Status signal(int sig) const;
  /// SIGKILL, then waits up to `timeoutMs` for it to disappear.
  Status killAndWait(int timeoutMs = 5000) const;
  /// SIGTERM, waits up to `graceMs`, then SIGKILL.
  Status terminate(int graceMs) const;
};

/// Start time of `pid` from /proc, or an error when it does not exist.
Result<uint64_t> processStartTime(pid_t pid);

}  // namespace kata::vc
