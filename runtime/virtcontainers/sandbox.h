// A sandbox is one VM: QEMU, kata-proxy in front of its agent channel, the shared directory and
// the agent's sandbox-wide state. Containers join a sandbox; the last one out destroys it.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "lib/config.h"
#include "lib/oci_spec.h"
#include "lib/result.h"
#include "runtime/virtcontainers/agent_client.h"
#include "runtime/virtcontainers/qemu.h"
#include "runtime/virtcontainers/store.h"

namespace kata::vc {

/// What the relay between the agent's channel (QEMU's virtio-serial socket) and the sandbox's
/// agent socket, which every agent client dials, is started with.
struct AgentRelayRequest {
  std::string sandboxId;
  std::string listenSocket;   // the agent socket to serve (StorePaths::proxySocket)
  std::string muxSocket;      // QEMU's agent channel
  std::string consoleSocket;  // QEMU's guest console
  std::string consoleLog;     // where the console's lines are kept
  std::string netns;          // the sandbox's: DNS relay and port-forward (kata-proxy); "" for none
  int virtiofsdLogFd = -1;    // virtiofsd's stderr (-1: none), kept in virtiofsdLog
  std::string virtiofsdLog;
  bool debug = false;
};

/// Starts the relay and returns the process serving it: kata-proxy (the CLI's) or the caller
/// itself (the shim v2 serves it from a thread).
using AgentRelayStarter = std::function<Result<ProcessRef>(const AgentRelayRequest&)>;

struct SandboxSpec {
  std::string id;
  std::string hostname;
  std::vector<std::string> dns;  // nameserver lines for the guest's /etc/resolv.conf
  // The spec's network namespace (a path), whose interfaces the guest gets; "" when the spec
  // asks for a new one: the sandbox then makes its own, kept at StorePaths::netnsFile(id) and
  // removed with the sandbox.
  std::string netns;
  // Runs once the network namespace exists, before its interfaces are scanned (the spec's
  // create hooks: Docker's libnetwork moves the container's veth in from there).
  std::function<Status(const std::string& netns)> beforeNetworkScan;
  // The first container's linux.resources: they size the VM (sizeVm).
  std::optional<oci::Resources> resources;
  // The host cgroup path (hostCgroupPath of linux.cgroupsPath) the sandbox's processes run in,
  // with runtime.sandbox_cgroup_only; "" for none.
  std::string hostCgroup;
  // A CRI pod: the guest keeps a pid namespace that the members whose spec joins the pod's
  // (CRI's shared PID mode: a pid namespace path) enter, so that they see each other.
  bool sharedPidNamespace = false;
  // Starts the agent relay; unset: a kata-proxy process. A relay served in-process (the
  // caller's own pid) is not stopped by destroySandbox: its owner stops it.
  AgentRelayStarter startAgentRelay;
};

/// Sizes the VM from the container's limits, as Kata 1.x: memory.limit adds its MiB to
/// default_memory (the guest kernel, agent and page cache live in the default); a CPU limit
/// (CFS quota / period, rounded up) or a cpuset gives that many vCPUs (the smaller of the two
/// when both are set; at most maxVcpus), instead of default_vcpus.
void sizeVm(VmConfig& vm, const oci::Resources& r);

/// Resolves the VM parameters from the configuration and the host (accelerator, memory).
Result<VmConfig> vmConfigFrom(const config::Config& config);

/// The CreateSandbox request for a new VM, in the form upstream Kata 1.12's runtime sends (its
/// agent mounts the share only from that form): the share as storage `kataShared` at
/// /run/kata-containers/shared/containers/, and [agent.kata] kernel_modules.
::grpc::CreateSandboxRequest createSandboxRequest(const config::Config& config, const VmConfig& vm,
                                                  const SandboxSpec& spec);

/// Boots the VM, starts the proxy, waits for the agent and sends CreateSandbox. On any failure
/// everything started so far is stopped and removed; the error says what failed and, when the
/// agent never answered, shows the tail of the guest console.
Result<SandboxState> createSandbox(const config::Config& config, const SandboxSpec& spec);

/// Tears a sandbox down: DestroySandbox (when the agent still answers), QEMU, proxy, what the
/// runtime added to the network namespace, shared dir, state dirs. Never stops half-way: every step
/// runs, and the first error is returned.
Status destroySandbox(const SandboxState& sandbox);

/// A client for the sandbox's agent.
Result<AgentClient> agentOf(const SandboxState& sandbox);

/// True while the sandbox's QEMU is running.
bool sandboxAlive(const SandboxState& sandbox);

}  // namespace kata::vc
