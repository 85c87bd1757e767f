// Where sandboxes and containers keep their state, and the JSON records themselves:
//   /run/vc/sbs/<sandbox>/sandbox.json            the sandbox (VM, proxy, member containers)
//   /run/vc/sbs/<sandbox>/<container>/state.json  one container and its exec'd processes
//   /run/vc/locks/<sandbox>.lock                   serialises commands on one sandbox
//   /run/vc/vm/<sandbox>/                         QEMU's sockets, pid file and logs
//   <--root>/<container>.json                      container -> sandbox index (runc's --root)
// Files are written atomically; every record read back is validated like untrusted input
// because a crash can leave anything behind.
#pragma once

#include <json/json.h>

#include <map>
#include <string>
#include <vector>

#include "lib/result.h"
#include "lib/state_file.h"
#include "runtime/virtcontainers/process_ref.h"

namespace kata::vc {

inline constexpr const char* kDefaultRoot = "/run/kata-runtime";

/// Base directories; overridable for tests through $KATA_VC_RUN_DIR (default /run).
struct StorePaths {
  static std::string runDir();
  static std::string sandboxDir(const std::string& sid) { return runDir() + "/vc/sbs/" + sid; }
  static std::string vmDir(const std::string& sid) { return runDir() + "/vc/vm/" + sid; }
  static std::string sharedDir(const std::string& sid) {
    return runDir() + "/kata-containers/shared/sandboxes/" + sid;
  }
  static std::string netnsFile(const std::string& sid) { return runDir() + "/vc/netns/" + sid; }
  static std::string locksDir() { return runDir() + "/vc/locks"; }
  static std::string lockFile(const std::string& sid) { return locksDir() + "/" + sid + ".lock"; }
  static std::string proxySocket(const std::string& sid) { return sandboxDir(sid) + "/proxy.sock"; }
};

struct SandboxState {
  std::string id;
  ProcessRef qemu;
  ProcessRef proxy;
  ProcessRef virtiofsd;     // shared_fs = "virtio-fs" only (pid 0 otherwise)
  std::string agentUrl;     // what shims and the runtime dial
  std::string accelerator;  // "kvm" or "tcg"
  std::string configPath;   // configuration.toml the sandbox was created with
  std::vector<std::string> containers;
  std::string created;  // RFC 3339
  // The network namespace whose interfaces were wired to the guest (net::attach), and what
  // was added to it: for each interface its tap, to remove at teardown.
  std::string netns;
  std::vector<std::string> netInterfaces;
  std::vector<std::string> netTaps;
  // What the VM booted with (sizeVm): `update` refuses limits beyond them.
  int vcpus = 0;
  int memoryMiB = 0;
  // The host cgroup (hostCgroupPath) its processes run in; "" for none.
  std::string hostCgroup;
  // The agent relay is served by the process `proxy` names (the shim v2) rather than a
  // kata-proxy of its own: its owner stops it, not destroySandbox.
  bool agentRelayInProcess = false;
};

struct ExecState {
  std::string id;
  ProcessRef shim;
  bool terminal = false;
};

struct ContainerState {
  std::string id;
  std::string sandboxId;
  std::string bundle;
  std::string status;  // created | running | paused | stopped (as last recorded)
  ProcessRef shim;     // the container's init relay; its pid is the container's pid
  bool terminal = false;
  std::string created;
  std::vector<std::string> hostMounts;  // mounts we made under the shared dir, in order
  std::map<std::string, std::string> annotations;
  Json::Value hooks;  // the spec's hooks, run by the runtime on the host
  std::map<std::string, ExecState> execs;
};

/// Reads and validates sandbox.json.
Result<SandboxState> loadSandbox(const std::string& sid);
Status saveSandbox(const SandboxState& s);
Result<ContainerState> loadContainer(const std::string& sid, const std::string& cid);
Status saveContainer(const ContainerState& c);

/// Exclusive (mutating commands) or shared (queries) lock of one sandbox; waits up to
/// `timeoutMs` (FileLock::acquire).
Result<FileLock> lockSandbox(const std::string& sid, FileLock::Mode mode, int timeoutMs = 120000);

/// The container index under the runtime's --root directory.
Status indexAdd(const std::string& root, const std::string& cid, const std::string& sid,
                const std::string& bundle);
/// The sandbox of `cid`; ENOENT with "container <id> does not exist" when unknown.
Result<std::string> indexLookup(const std::string& root, const std::string& cid);
Status indexRemove(const std::string& root, const std::string& cid);
Result<std::vector<std::string>> indexList(const std::string& root);

}  // namespace kata::vc
