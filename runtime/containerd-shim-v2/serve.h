// The shim daemon: serves containerd's task API for one pod until the Shutdown rpc or
// SIGTERM/SIGINT. Started by `start` (bootstrap.h) with the bundle as its working directory
// and the listening socket as fd 3 (or given -socket).
#pragma once

#include "lib/result.h"
#include "lib/unique_fd.h"
#include "runtime/containerd-shim-v2/options.h"

namespace kata::shimv2 {

/// containerd 1.6 makes a FIFO `log` in the bundle and copies what comes out of it into its
/// own log (runtime/v2/shim_unix.go openShimLog): opens it for writing, without waiting for
/// a reader that is gone (containerd restarted: ENXIO). Invalid fd when absent or unread.
UniqueFd openContainerdLog(const std::string& bundle);

/// Runs the daemon (log, signals, publisher, ttrpc server, task service) and returns when
/// it should exit; an error when it could not start serving.
Status serve(const Options& options);

}  // namespace kata::shimv2
