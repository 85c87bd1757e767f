// Host-side terminals for containers that ask for one: a pty pair whose master goes to the
// caller of `--console-socket` (runc's protocol: one SCM_RIGHTS message carrying the master fd,
// with the pty's name as the payload) and whose slave becomes the shim's stdio.
#pragma once

#include <string>

#include "lib/result.h"
#include "lib/unique_fd.h"

namespace kata::vc {

struct Pty {
  UniqueFd master;
  UniqueFd slave;
  std::string name;  // /dev/pts/N
};

/// Opens a new pty pair (both ends O_CLOEXEC, no controlling terminal), sized if rows/cols > 0.
Result<Pty> openPty(unsigned rows = 0, unsigned cols = 0);

/// Connects to the unix socket at `socketPath` and sends `master` with `name`.
Status sendConsole(const std::string& socketPath, int master, const std::string& name);

}  // namespace kata::vc
