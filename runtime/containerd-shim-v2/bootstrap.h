// The shim's short-lived actions, as containerd 1.6 runs them (runtime/v2/binary.go):
//
//  * `start` (cwd = bundle; env TTRPC_ADDRESS, GRPC_ADDRESS, NAMESPACE): prints the address of
//    the shim that serves this task. One shim serves a whole pod: a CRI "container" (its
//    config.json says io.kubernetes.cri.container-type=container) gets the address of its
//    sandbox's shim, which must be running; anything else gets a shim of its own, started here
//    as a daemon (a new session, the listening socket as fd 3, stdio on /dev/null so that
//    containerd's read of start's output ends) unless one already serves its address. The
//    address is also written to the bundle's `address` file.
//  * `delete` (after the shim died): cleans up and prints a DeleteResponse (deleteResponse).
//
// containerd reads all of start's stdout and stderr as the address, so nothing else may be
// printed on success.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lib/result.h"
#include "runtime/containerd-shim-v2/options.h"

namespace kata::shimv2 {

/// Where containerd 1.6 puts shim sockets (its state dir) and where our daemon is.
struct BootstrapConfig {
  std::string socketRoot = "/run/containerd";  // sockets go in <socketRoot>/s/
  std::string selfExe = "/proc/self/exe";      // re-executed as the daemon
};

/// containerd's shim socket address for a task: "unix://<socketRoot>/s/<hex sha256 of the
/// path join of containerdAddress, ns and id>" (runtime/v2/shim/util_unix.go SocketAddress;
/// the join is Go's filepath.Join, so the path is cleaned).
std::string socketAddress(const std::string& containerdAddress, const std::string& ns,
                          const std::string& id,
                          const std::string& socketRoot = BootstrapConfig{}.socketRoot);

/// The filesystem path of a "unix://" address ("" when it is not one).
std::string socketPathOf(const std::string& address);

/// Go's filepath.Join: non-empty parts joined by '/', then cleaned ("//" and "." removed,
/// ".." resolved lexically).
std::string goPathJoin(const std::vector<std::string>& parts);

/// The `start` action: the address of the shim serving options.id's pod, starting it when
/// needed (see above). Errors are one line.
Result<std::string> startShim(const Options& options, const BootstrapConfig& config = {});

/// Logging of the shim's actions and daemon: logrus text lines on stderr (containerd shows a
/// `delete`'s stderr as warnings, and the daemon's stderr is containerd's log FIFO) with the
/// task id and namespace; debug level with -debug, else warnings and errors.
Status initShimLog(const Options& options);

/// The serialized containerd.task.v2.DeleteResponse the `delete` action prints after a dead
/// shim: pid 0, exit status 137 (killed), exited_at = `exitedAtNanos` since the epoch.
std::string deleteResponse(int64_t exitedAtNanos);

}  // namespace kata::shimv2
