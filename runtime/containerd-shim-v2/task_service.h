// The task service of containerd-shim-kata-v2: one pod (one VM) per shim process, every
// container of the pod and its processes, driven through the same virtcontainers library as
// kata-runtime (runtime/virtcontainers/sandbox.h, container.h). Where the CLI starts a
// kata-proxy and a kata-shim per process, the shim v2 relays the agent channel and every
// process's stdio itself, on threads (agent_relay.h, process_relay.h).
//
// State: the sandbox and its containers are recorded in the store (/run/vc/sbs/<sandbox>/) as
// the CLI records them, so that `delete` after a killed shim (cleanupAfterDeadShim) finds the
// VM, the mounts and the host cgroup to remove. Process state (exit statuses, FIFOs) lives in
// memory only: it dies with the shim, as containerd expects.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "lib/result.h"
#include "runtime/containerd-shim-v2/events.h"
#include "runtime/containerd-shim-v2/options.h"
#include "runtime/containerd-shim-v2/task_handler.h"

namespace kata::shimv2 {

/// The service for the pod whose shim this is. `requestShutdown` ends the serving process (the
/// Shutdown rpc once no container is left).
std::unique_ptr<TaskHandler> makeTaskService(const Options& options, EventPublisher& events,
                                             std::function<void()> requestShutdown);

/// `delete` after the shim of `options.id` died: its VM, mounts, host cgroup and state go (when
/// the id is the pod's sandbox), and the rootfs mounted in `bundle`.
Status cleanupAfterDeadShim(const Options& options, const std::string& bundle);

}  // namespace kata::shimv2
