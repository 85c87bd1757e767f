// A container's life inside a sandbox, as both front ends drive it: kata-runtime (one command
// per operation, state reloaded from the store each time, a kata-shim per process) and
// containerd-shim-kata-v2 (one long-running process per pod, relaying stdio itself). What is
// front-end specific (the index of --root, locks, pid files, shims, containerd's events) stays
// with the front end; what the guest and the shared directory see is done here, once.
#pragma once

#include <string>
#include <vector>

#include "lib/config.h"
#include "lib/oci_spec.h"
#include "lib/result.h"
#include "protocols/agent.pb.h"
#include "runtime/virtcontainers/agent_client.h"
#include "runtime/virtcontainers/store.h"

namespace kata::vc {

/// How long the agent may take to stop a container's processes at removal (seconds).
inline constexpr int kRemoveTimeoutSec = 10;

/// What the front end asks of a new container.
struct ContainerRequest {
  std::string id;
  std::string bundle;  // absolute
  const oci::Spec* spec = nullptr;
  bool guestSeccomp = true;  // !runtime.disable_guest_seccomp
};

/// Claims the container's state dir in the sandbox (exclusively: a duplicate id fails with
/// EEXIST), shares its rootfs and volumes and creates it in the guest, not started. The state
/// returned is not saved yet. On failure every step is undone.
Result<ContainerState> createContainerInSandbox(const SandboxState& sandbox,
                                                const ContainerRequest& req);

/// Removes a container's guest side (RemoveContainer, when the VM still answers; with `force`
/// an agent error is not fatal) and its mounts in the share. Processes relaying its stdio are
/// the front end's. Every step runs; the first error is returned.
Status removeContainerFromSandbox(const SandboxState& sandbox, const ContainerState& c, bool force);

/// Detaches a container's mounts (newest first), then whatever else is in its directory of the
/// share (mounts a killed create did not record).
Status unshareAll(const std::string& sid, const std::string& cid,
                  const std::vector<std::string>& hostMounts);

/// StartContainer: runs the created container's process.
Status startInGuest(const SandboxState& sandbox, const std::string& id);

/// SignalProcess: `execId` "" reaches every process of the container.
Status signalInGuest(const SandboxState& sandbox, const std::string& id, const std::string& execId,
                     int signal);

/// ExecProcess: a new process in a running container, started at once.
Status execInGuest(const SandboxState& sandbox, const std::string& id, const std::string& execId,
                   const oci::Process& process);

/// PauseContainer / ResumeContainer.
Status pauseInGuest(const SandboxState& sandbox, const std::string& id, bool pause);

/// UpdateContainer, refused before anything changes when the VM cannot give the limits; the
/// sandbox's host cgroup follows.
Status updateInGuest(const SandboxState& sandbox, const std::string& id,
                     const oci::Resources& resources);

/// StatsContainer, its size checked (a lying agent's reply of many entries is refused).
Result<::grpc::StatsContainerResponse> statsInGuest(const SandboxState& sandbox,
                                                    const std::string& id);

/// ListProcesses: the guest's `ps ARGS` table of the container (kata-runtime ps).
Result<std::string> processesInGuest(const SandboxState& sandbox, const std::string& id,
                                     const std::vector<std::string>& args);

/// TtyWinResize of a process's terminal.
Status resizeInGuest(const SandboxState& sandbox, const std::string& id, const std::string& execId,
                     unsigned rows, unsigned cols);

}  // namespace kata::vc
