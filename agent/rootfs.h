// The container's filesystem view, built by the container's first process inside its new
// mount namespace: mounts from the spec (targets resolved inside the rootfs, never through a
// symlink out of it), device nodes, pivot_root, masked and read-only paths, sysctls, hostname.
//
// Runs in a forked child of the multi-threaded agent: no logging, no locks; errors are
// returned and reported over the sync socket.
#pragma once

#include "agent/container_config.h"
#include "lib/result.h"

namespace kata::agent {

/// Sets everything up; on success the caller's root and cwd are the container's "/".
Status setupRootfs(const RootfsSpec& spec);

}  // namespace kata::agent
