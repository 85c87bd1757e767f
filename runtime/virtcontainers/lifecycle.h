// The container operations behind kata-runtime's verbs. Each takes the sandbox lock, works on
// the state under /run/vc and talks to the sandbox's agent; a failure leaves the previous state.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "lib/child_process.h"
#include "lib/config.h"
#include "lib/oci_spec.h"
#include "lib/result.h"
#include "protocols/agent.pb.h"
#include "runtime/virtcontainers/store.h"

namespace kata::vc {

struct RuntimeContext {
  config::Config config;
  std::string root = kDefaultRoot;  // runc's --root: the container index
};

struct CreateRequest {
  std::string id;
  std::string bundle;
  std::string pidFile;
  std::string consoleSocket;
  /// Keep the shim as our child (for `run` in the foreground) instead of detaching it.
  bool foregroundShim = false;
};

/// A started shim: detached (pid only) or our child (foreground run/exec).
struct ShimHandle {
  ProcessRef ref;
  std::optional<ChildProcess> child;
};

/// `create`: sandbox (new VM, or join one for pod members), rootfs and volumes shared,
/// container created in the guest, shim started, pid file written, prestart hooks run.
Result<ShimHandle> createContainer(const RuntimeContext& ctx, const CreateRequest& req);

/// `start`: runs the created container's process; poststart hooks.
Status startContainer(const RuntimeContext& ctx, const std::string& id);

/// `kill`: delivers `signal` to the container's init (every process with `all`).
Status killContainer(const RuntimeContext& ctx, const std::string& id, int signal, bool all);

/// `delete`: refuses a running container unless `force`; removes everything it owned, and the
/// sandbox with its last container.
Status deleteContainer(const RuntimeContext& ctx, const std::string& id, bool force);

struct ContainerInfo {
  ContainerState state;
  std::string status;  // live status: created | running | paused | stopped
  pid_t pid = 0;       // the shim standing in for the container process; 0 when stopped
};

Result<ContainerInfo> containerInfo(const RuntimeContext& ctx, const std::string& id);
Result<std::vector<ContainerInfo>> listContainers(const RuntimeContext& ctx);

struct ExecRequest {
  std::string id;
  oci::Process process;
  std::string consoleSocket;
  std::string pidFile;
  bool detach = false;
};

/// `exec`: a new process in a running container, with its own shim.
Result<ShimHandle> execProcess(const RuntimeContext& ctx, const ExecRequest& req);

/// `pause` / `resume`.
Status pauseContainer(const RuntimeContext& ctx, const std::string& id, bool pause);

/// `ps`: the agent's process list of the container (the guest's `ps` table).
Result<std::string> listProcesses(const RuntimeContext& ctx, const std::string& id,
                                  const std::vector<std::string>& args);

/// `ps --format json`: the host processes that stand for the container's processes, the shims
/// of its init and of its live exec'd processes. The guest's pids mean nothing on the host, and
/// Docker (`docker top`) runs the host's `ps` on these pids.
Result<std::vector<pid_t>> hostPids(const RuntimeContext& ctx, const std::string& id);

/// `update`: new cgroup limits for a running or paused container.
Status updateContainer(const RuntimeContext& ctx, const std::string& id,
                       const oci::Resources& resources);

/// `events --stats`: the container's cgroup and network statistics.
Result<::grpc::StatsContainerResponse> containerStats(const RuntimeContext& ctx,
                                                      const std::string& id);

/// Waits for a foreground shim and returns the container process's exit status; forwards
/// SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2 to the shim meanwhile.
Result<int> waitForeground(ShimHandle& shim);

/// Parses a signal given as a name ("KILL", "SIGKILL") or number.
Result<int> parseSignal(const std::string& text);

}  // namespace kata::vc
