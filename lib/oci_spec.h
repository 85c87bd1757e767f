// Typed model of the OCI runtime spec 1.0.x config.json, covering everything runc honours, with
// a strict parser (types checked, errors carry the JSON path of the offending field) and a
// serializer that round-trips: parseSpec(toJson(s)) == s.
//
// Unknown properties are ignored, as the OCI spec requires of runtimes. std::optional marks the
// fields whose absence means something different from a zero value (no memory limit, no
// seccomp, keep the current oom_score_adj...).
#pragma once

#include <json/json.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/result.h"

#if defined(linux)
#undef linux  // GNU dialects predefine it; Spec::linux mirrors the JSON key
#endif

namespace kata::oci {

inline constexpr const char* kOciVersion = "1.0.2";

struct Box {
  uint32_t height = 0;
  uint32_t width = 0;
  bool operator==(const Box&) const = default;
};

struct User {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::optional<uint32_t> umask;
  std::vector<uint32_t> additionalGids;
  std::string username;
  bool operator==(const User&) const = default;
};

struct Capabilities {
  std::vector<std::string> bounding, effective, inheritable, permitted, ambient;
  bool operator==(const Capabilities&) const = default;
};

struct Rlimit {
  std::string type;  // "RLIMIT_NOFILE", ...
  uint64_t hard = 0;
  uint64_t soft = 0;
  bool operator==(const Rlimit&) const = default;
};

struct Process {
  bool terminal = false;
  std::optional<Box> consoleSize;
  User user;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd = "/";
  std::optional<Capabilities> capabilities;
  std::vector<Rlimit> rlimits;
  bool noNewPrivileges = false;
  std::string apparmorProfile;
  std::optional<int> oomScoreAdj;
  std::string selinuxLabel;
  bool operator==(const Process&) const = default;
};

struct Root {
  std::string path;
  bool readonly = false;
  bool operator==(const Root&) const = default;
};

struct Mount {
  std::string destination;  // absolute path in the container
  std::string type;
  std::string source;
  std::vector<std::string> options;
  bool operator==(const Mount&) const = default;
};

struct Hook {
  std::string path;  // absolute
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::optional<int> timeout;  // seconds, > 0
  bool operator==(const Hook&) const = default;
};

struct Hooks {
  std::vector<Hook> prestart, createRuntime, createContainer, startContainer, poststart, poststop;
  bool empty() const {
    return prestart.empty() && createRuntime.empty() && createContainer.empty() &&
           startContainer.empty() && poststart.empty() && poststop.empty();
  }
  bool operator==(const Hooks&) const = default;
};

struct IdMapping {
  uint32_t containerID = 0;
  uint32_t hostID = 0;
  uint32_t size = 0;
  bool operator==(const IdMapping&) const = default;
};

/// linux.resources.devices[]: a device cgroup rule.
struct DeviceCgroup {
  bool allow = false;
  std::string type;                     // "a" | "c" | "b" | "" (all)
  std::optional<int64_t> major, minor;  // absent = wildcard
  std::string access;                   // subset of "rwm"
  bool operator==(const DeviceCgroup&) const = default;
};

struct MemoryResources {
  std::optional<int64_t> limit, reservation, swap, kernel, kernelTCP;
  std::optional<uint64_t> swappiness;
  std::optional<bool> disableOOMKiller;
  bool operator==(const MemoryResources&) const = default;
};

struct CpuResources {
  std::optional<uint64_t> shares;
  std::optional<int64_t> quota;
  std::optional<uint64_t> period;
  std::optional<int64_t> realtimeRuntime;
  std::optional<uint64_t> realtimePeriod;
  std::string cpus, mems;
  bool operator==(const CpuResources&) const = default;
};

struct PidsResources {
  int64_t limit = 0;
  bool operator==(const PidsResources&) const = default;
};

struct WeightDevice {
  int64_t major = 0, minor = 0;
  std::optional<uint16_t> weight, leafWeight;
  bool operator==(const WeightDevice&) const = default;
};

struct ThrottleDevice {
  int64_t major = 0, minor = 0;
  uint64_t rate = 0;
  bool operator==(const ThrottleDevice&) const = default;
};

struct BlockIoResources {
  std::optional<uint16_t> weight, leafWeight;
  std::vector<WeightDevice> weightDevice;
  std::vector<ThrottleDevice> throttleReadBpsDevice, throttleWriteBpsDevice, throttleReadIOPSDevice,
      throttleWriteIOPSDevice;
  bool operator==(const BlockIoResources&) const = default;
};

struct HugepageLimit {
  std::string pageSize;  // "2MB", "1GB"
  uint64_t limit = 0;
  bool operator==(const HugepageLimit&) const = default;
};

struct InterfacePriority {
  std::string name;
  uint32_t priority = 0;
  bool operator==(const InterfacePriority&) const = default;
};

struct NetworkResources {
  std::optional<uint32_t> classID;
  std::vector<InterfacePriority> priorities;
  bool operator==(const NetworkResources&) const = default;
};

struct Resources {
  std::vector<DeviceCgroup> devices;
  std::optional<MemoryResources> memory;
  std::optional<CpuResources> cpu;
  std::optional<PidsResources> pids;
  std::optional<BlockIoResources> blockIO;
  std::vector<HugepageLimit> hugepageLimits;
  std::optional<NetworkResources> network;
  std::map<std::string, std::string> unified;  // cgroup v2 files (runc refuses them on v1)
  bool operator==(const Resources&) const = default;
};

struct Namespace {
  std::string type;  // pid | network | mount | ipc | uts | user | cgroup
  std::string path;  // join this namespace instead of creating one
  bool operator==(const Namespace&) const = default;
};

/// linux.devices[]: a device node to create in the container.
struct Device {
  std::string path;  // absolute
  std::string type;  // "c" | "b" | "u" | "p"
  int64_t major = 0, minor = 0;
  std::optional<uint32_t> fileMode;
  std::optional<uint32_t> uid, gid;
  bool operator==(const Device&) const = default;
};

struct SeccompArg {
  uint32_t index = 0;
  uint64_t value = 0;
  uint64_t valueTwo = 0;
  std::string op;  // SCMP_CMP_NE, SCMP_CMP_LT, ... SCMP_CMP_MASKED_EQ
  bool operator==(const SeccompArg&) const = default;
};

struct SyscallRule {
  std::vector<std::string> names;
  std::string action;  // SCMP_ACT_*
  std::optional<uint32_t> errnoRet;
  std::vector<SeccompArg> args;
  bool operator==(const SyscallRule&) const = default;
};

struct Seccomp {
  std::string defaultAction;
  std::optional<uint32_t> defaultErrnoRet;  // OCI 1.1, read by runc 1.1
  std::vector<std::string> architectures;   // SCMP_ARCH_*
  std::vector<std::string> flags;           // SECCOMP_FILTER_FLAG_*
  std::vector<SyscallRule> syscalls;
  bool operator==(const Seccomp&) const = default;
};

struct IntelRdt {
  std::string closID;
  std::string l3CacheSchema;
  std::string memBwSchema;
  bool operator==(const IntelRdt&) const = default;
};

/// linux.personality: the execution domain of the container's processes.
struct Personality {
  std::string domain;  // "LINUX" | "LINUX32"
  std::vector<std::string> flags;
  bool operator==(const Personality&) const = default;
};

struct Linux {
  std::vector<IdMapping> uidMappings, gidMappings;
  std::map<std::string, std::string> sysctl;
  std::optional<Resources> resources;
  std::string cgroupsPath;
  std::vector<Namespace> namespaces;
  std::vector<Device> devices;
  std::optional<Seccomp> seccomp;
  std::string rootfsPropagation;  // "" | shared | slave | private | unbindable (+ r-variants)
  std::vector<std::string> maskedPaths, readonlyPaths;
  std::string mountLabel;
  std::optional<IntelRdt> intelRdt;
  std::optional<Personality> personality;

  /// The namespace entry of `type`, or nullptr.
  const Namespace* findNamespace(std::string_view type) const;
  bool operator==(const Linux&) const = default;
};

struct Spec {
  std::string ociVersion = kOciVersion;
  std::optional<Process> process;
  Root root;
  std::string hostname;
  std::vector<Mount> mounts;
  Hooks hooks;
  std::map<std::string, std::string> annotations;
  std::optional<Linux> linux;
  bool operator==(const Spec&) const = default;
};

/// Parses and validates config.json text. Errors read like
///   config.json: process.args[0]: expected string
/// Checks: ociVersion present, root.path present, process.args non-empty and process.cwd
/// absolute when process is present, absolute mount destinations, known namespace types
/// (no duplicates), valid rootfsPropagation, hook paths absolute.
Result<Spec> parseSpec(std::string_view json);

/// Reads <bundleDir>/config.json (at most 16 MiB) and parses it. A missing bundle or
/// config.json is a one-line error naming the path.
Result<Spec> loadSpec(const std::string& bundleDir);

/// The process JSON of `exec --process <file>` (same schema as config.json's "process").
/// `what` names the source in errors, e.g. "/tmp/runc-process123".
Result<Process> parseProcess(std::string_view json, const std::string& what = "process.json");

/// The resources JSON of `update --resources <file>` (schema of linux.resources).
Result<Resources> parseResources(std::string_view json, const std::string& what = "resources");

Json::Value toJson(const Spec& spec);
Json::Value toJson(const Process& process);
Json::Value toJson(const Resources& resources);

/// What `runc spec` writes: `sh` with a terminal, rootfs "rootfs" read-only, the standard
/// mounts, CAP_AUDIT_WRITE/CAP_KILL/CAP_NET_BIND_SERVICE, masked and read-only /proc paths,
/// pid/network/ipc/uts/mount namespaces, RLIMIT_NOFILE 1024. Rootless adds a user namespace
/// mapping the caller's uid/gid to 0 and drops what an unprivileged user cannot set up.
Spec defaultSpec(bool rootless = false);

/// The namespace types the spec knows.
bool isKnownNamespaceType(std::string_view type);

}  // namespace kata::oci
