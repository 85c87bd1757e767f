// The container's filesystem view, built by the container's first process inside its new
// mount namespace: mounts from the spec (targets resolved inside the rootfs, never through a
// symlink out of it), device nodes, pivot_root, masked and read-only paths, sysctls, hostname.
// The steps come in runc's order (libcontainer's prepareRootfs, then its console, then
// finalizeRootfs and the rest of its standard init), so that a spec sees what runc gives it.
//
// Runs in a forked child of the multi-threaded agent: no logging, no locks; errors are
// returned and reported over the sync socket.
#pragma once

#include "agent/container_config.h"
#include "lib/result.h"

namespace kata::agent {

/// Mounts, device nodes (the spec's, then runc's defaults: null, zero, full, random, urandom,
/// tty, the /dev/fd and std* links, /dev/ptmx), pivot_root and the root's propagation. On
/// success the caller's root and cwd are the container's "/".
Status prepareRootfs(const RootfsSpec& spec);

/// Bind-mounts the terminal `slaveFd` on /dev/console (the init's terminal, as runc).
Status mountConsole(int slaveFd);

/// After prepareRootfs (and the console): a read-only /dev and root when asked, the hostname,
/// the sysctls (while /proc/sys is still writable), then read-only and masked paths.
Status finalizeRootfs(const RootfsSpec& spec);

}  // namespace kata::agent
