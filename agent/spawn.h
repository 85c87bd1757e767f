// Starting container processes: fork, join/create namespaces, and the create/start split.
//
//   agent ──fork──> intermediate: setns() into joined namespaces, unshare() new ones,
//                   fork ──> container process (PID 1 of a new pid namespace), then exit
//
// The agent and the container process talk over a SOCK_SEQPACKET pair ("sync socket"):
//   child → agent  Pid      (from the intermediate: the container process's pid)
//   agent → child  Continue (cgroups joined, oom_score_adj set)
//   child → agent  Pty      (terminal only: the pty master, SCM_RIGHTS; the pty comes from the
//                            container's own devpts, opened once its mounts are in place)
//   child → agent  Ready    (init only: rootfs built, waiting for StartContainer)
//   agent → child  Start    (init only)
//   child → agent  Error    (any step failed; the child exits)
//   EOF                     execve succeeded (the socket is close-on-exec)
// This is runc's exec.fifo idea: CreateContainer returns while the container's init waits in
// its namespaces; StartContainer lets it exec.
#pragma once

#include <sys/types.h>

#include <functional>

#include "agent/container_config.h"
#include "agent/reaper.h"
#include "agent/stdio.h"
#include "lib/result.h"
#include "lib/unique_fd.h"

namespace kata::agent {

struct SpawnedProcess {
  pid_t pid = -1;
  UniqueFd sync;  // agent's end of the sync socket
};

/// Called in the agent once the container process exists, before it continues: join cgroups.
using PlacementHook = std::function<Status(pid_t pid)>;

/// Creates the container's init: returns once its rootfs is ready and it waits for start.
/// `onExit` is registered with the reaper. On error the process is gone (killed and reaped).
/// For a terminal process `stdio.ptyMaster` receives the master of the container's pty (the
/// same for spawnInContainer).
Result<SpawnedProcess> spawnContainerInit(const ContainerConfig& config, StdioPair& stdio,
                                          Reaper& reaper, Reaper::ExitCallback onExit,
                                          const PlacementHook& placement);

/// Lets a waiting init exec its process; error when the exec failed (the child then exits).
Status startContainerInit(SpawnedProcess& init);

/// Runs `process` inside the namespaces of the running process `nsPid` (the container's init),
/// for ExecProcess. Returns once the process exec'd.
Result<pid_t> spawnInContainer(const ProcessSpec& process, pid_t nsPid,
                               const std::vector<int>& nsFlags, StdioPair& stdio, Reaper& reaper,
                               Reaper::ExitCallback onExit, const PlacementHook& placement);

/// A process that holds a pid namespace for the sandbox (sandbox_pidns): it is PID 1 of a new
/// pid namespace and sleeps until killed. Returns its pid.
Result<pid_t> spawnPidNamespaceHolder(Reaper& reaper, Reaper::ExitCallback onExit);

}  // namespace kata::agent
