// cgroup v1 for containers: one directory per controller hierarchy at
// /sys/fs/cgroup/<hierarchy>/<cgroupsPath>, limits from linux.resources, freezer for pause.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "lib/result.h"
#include "lib/unique_fd.h"

namespace grpc {
class LinuxResources;
class CgroupStats;
}  // namespace grpc

namespace kata::agent {

/// A mounted v1 hierarchy.
struct CgroupHierarchy {
  std::string mountPoint;                // /sys/fs/cgroup/cpu,cpuacct
  std::vector<std::string> controllers;  // cpu, cpuacct (or name=systemd)
};

/// The v1 hierarchies of /proc/self/mountinfo text.
std::vector<CgroupHierarchy> parseCgroupMounts(std::string_view mountinfo);

/// Checks and normalises an OCI cgroupsPath: absolute-ish, no "..", no empty components;
/// systemd "slice:prefix:name" paths and "" map to /kata/<id>.
Result<std::string> normalizeCgroupPath(const std::string& path, const std::string& containerId);

/// One line for devices.allow (allow) or devices.deny.
struct DeviceRule {
  bool allow = false;
  std::string rule;  // "c 1:3 rwm"
};

/// The device cgroup rules runc writes for `resources`: "deny everything", the spec's rules in
/// order, then the ones runc always appends: every container may create device nodes and use
/// null, zero, full, random, urandom, tty, ptmx, its ptys and /dev/net/tun, whatever its spec
/// says. A spec without rules thus gets only those (runc's devices cgroup starts from deny).
Result<std::vector<DeviceRule>> deviceCgroupRules(const grpc::LinuxResources& resources);

class Cgroup {
 public:
  Cgroup() = default;
  /// Creates (or reuses) the directories of `path` in every hierarchy of /proc/self/mountinfo
  /// under `root` (the cgroup mount root, /sys/fs/cgroup). Nothing is left behind on error.
  static Result<Cgroup> create(const std::string& path);

  /// Writes the limits; a controller this kernel lacks is skipped, a rejected value is an error.
  /// The device rules (deviceCgroupRules) are written when `resources` has any, and always for
  /// a new container (`initial`).
  Status apply(const grpc::LinuxResources& resources, bool initial = false);
  Status addProcess(pid_t pid);
  /// Every pid in the cgroup (from the first hierarchy that lists tasks).
  std::vector<pid_t> pids() const;
  Status freeze(bool frozen);
  void stats(grpc::CgroupStats* out) const;
  /// An eventfd the kernel signals when the cgroup hits its memory limit (and once more when
  /// the cgroup is removed: close it first).
  Result<UniqueFd> oomEventFd() const;
  /// Removes the directories this object created (waiting briefly for exiting tasks).
  Status destroy();

  const std::string& path() const { return path_; }
  /// (hierarchy dir name, host dir of this cgroup) pairs, for the container's cgroup mount.
  std::vector<std::pair<std::string, std::string>> hierarchyDirs() const;

 private:
  struct Dir {
    CgroupHierarchy hierarchy;
    std::string dir;
    std::vector<std::string> created;  // deepest last
  };
  const Dir* find(const std::string& controller) const;
  Status applyDeviceRules(const grpc::LinuxResources& resources);  // see deviceCgroupRules
  Status writeBlkioWeight(uint32_t weight) const;
  Status write(const std::string& controller, const std::string& file, const std::string& value,
               bool optional) const;

  std::string path_;
  std::vector<Dir> dirs_;
};

}  // namespace kata::agent
