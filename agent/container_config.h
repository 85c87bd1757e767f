// A container as the engine runs it: everything from the CreateContainer request (the OCI spec
// inside it) checked and converted into plain values. The conversion happens in the agent; the
// forked child only reads these structs (it must not log, take locks or touch protobufs).
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agent/capabilities.h"
#include "lib/mount_options.h"
#include "agent/seccomp.h"
#include "agent/user.h"
#include "lib/result.h"

namespace grpc {
class CreateContainerRequest;
class Process;
class StringUser;
}  // namespace grpc

namespace kata::agent {

/// Where the runtime shares container rootfs and volumes in the guest.
inline constexpr const char* kSharedDir = "/run/kata-containers/shared/containers";

/// Set by the runtime on a privileged container's spec (docker --privileged, whose host devices
/// cannot enter the VM): "all" gives the container a node for every device of the guest, as
/// runc gives a privileged container every device of the host.
inline constexpr const char* kGuestDevicesAnnotation = "io.katacontainers.guest_devices";

struct NamespaceSpec {
  int flag = 0;      // CLONE_NEW*
  std::string path;  // join this one; empty = create a new one
};

struct MountSpec {
  std::string source;
  std::string destination;  // absolute, inside the rootfs
  std::string type;         // "bind", "proc", "tmpfs", "cgroup", ...
  mount::MountOptions options;
};

struct DeviceSpec {
  std::string path;     // absolute, inside the rootfs
  mode_t fileType = 0;  // S_IFCHR, S_IFBLK or S_IFIFO
  unsigned major = 0, minor = 0;
  mode_t mode = 0666;
  uid_t uid = 0;
  gid_t gid = 0;
};

/// One line of a user namespace's uid_map or gid_map (guest ids).
struct IdMapping {
  uint32_t containerId = 0, hostId = 0, size = 0;
};

struct RlimitSpec {
  int resource = 0;
  rlim_t soft = 0, hard = 0;
};

/// The process to exec (the container's init or an exec'd one).
struct ProcessSpec {
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd = "/";
  bool terminal = false;
  unsigned rows = 0, cols = 0;
  ResolvedUser user;
  mode_t umask = 022;   // process.user.umask, runc's 0022 when absent
  CapabilitySets caps;  // a process without capabilities gets none, as with runc
  bool noNewPrivileges = false;
  std::vector<RlimitSpec> rlimits;
  int oomScoreAdj = 0;
  SeccompProgram seccomp;                    // the container's profile; empty = none
  std::optional<unsigned long> personality;  // linux.personality (PER_LINUX, PER_LINUX32)
};

struct RootfsSpec {
  std::string rootfs;  // host (agent) path of the container's root
  bool readonly = false;
  unsigned long propagation = 0;  // rootfsPropagation (MS_* | MS_REC), 0 = keep rslave
  std::vector<MountSpec> mounts;
  std::vector<DeviceSpec> devices;
  std::vector<std::string> maskedPaths;
  std::vector<std::string> readonlyPaths;
  std::vector<std::pair<std::string, std::string>> sysctls;
  std::optional<std::string> hostname;  // set when the container has its own UTS namespace
  /// In a new user namespace mknod is refused: device nodes are bind-mounted from the agent's
  /// /dev instead, as runc does.
  bool inUserNamespace = false;
  /// (hierarchy dir name, agent path of the container's cgroup) for "cgroup" mounts.
  std::vector<std::pair<std::string, std::string>> cgroupDirs;
};

struct ContainerConfig {
  std::string id;
  std::vector<NamespaceSpec> namespaces;  // joined/created by the intermediate child
  bool newCgroupNamespace = false;        // unshared after joining the cgroups
  /// linux.uidMappings/gidMappings of a new user namespace; the agent writes them.
  std::vector<IdMapping> uidMappings, gidMappings;
  RootfsSpec rootfs;
  ProcessSpec process;
  std::string cgroupPath;  // normalised, e.g. /kata/<id>
};

/// What the sandbox contributes to a container's configuration.
struct SandboxContext {
  bool guestMode = false;   // running as the VM's init (sysctls are the VM's own)
  std::string sharedPidNs;  // /proc/<pid>/ns/pid of the sandbox pid namespace, "" if none
};

/// Lexical checks for a path inside a container: absolute, at most 4096 bytes, no ".."
/// component, no NUL. `what` names the field in the error.
Status validateContainerPath(const std::string& path, const std::string& what);

/// Builds and validates the whole configuration from CreateContainer. Resolves users through
/// the rootfs, compiles seccomp. Errors name the offending field.
Result<ContainerConfig> buildContainerConfig(const grpc::CreateContainerRequest& req,
                                             const SandboxContext& ctx);

/// Builds the process part (also used by ExecProcess). `stringUser` may be null.
/// `seccomp` is the container's compiled profile (exec'd processes get it too).
Result<ProcessSpec> buildProcessSpec(const grpc::Process& process,
                                     const grpc::StringUser* stringUser, const std::string& rootfs,
                                     const SeccompProgram& seccomp);

/// Every character and block device below `dir`, as runc lists a host's devices for a
/// privileged container: pts, shm, fd and mqueue and the console are left out; symlinks are not
/// followed. Paths are given as below /dev.
Result<std::vector<DeviceSpec>> listDevices(const std::string& dir);

/// True when the sysctl `key` is namespaced (only affects the container) or the agent runs as
/// the VM's init, where the whole kernel belongs to the sandbox.
bool sysctlAllowed(const std::string& key, bool guestMode);

}  // namespace kata::agent
