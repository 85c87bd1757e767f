// The sandbox's host cgroup (runtime.sandbox_cgroup_only, as Kata 1.x): QEMU, kata-proxy,
// virtiofsd and every kata-shim of the sandbox run in the container's cgroup (the spec's
// linux.cgroupsPath), so that the host's limits and accounting of that cgroup (Docker's
// --cgroup-parent, `docker stats`, containerd's OOM watch) cover the whole VM.
//
// Only CPU limits are applied there (shares, CFS quota and period, cpuset, blkio weight): the
// guest's RAM is bounded by the VM's size, and a host memory limit at the container's value
// would kill QEMU, whose RAM is that limit plus the guest's own overhead.
#pragma once

#include <string>
#include <vector>

#include "lib/oci_spec.h"
#include "lib/result.h"

namespace kata::vc {

/// linux.cgroupsPath as a path below each hierarchy's root ("/a/b"); "" stays "".
/// cgroupfs style: "/parent/id" (a relative path is taken from the root as well).
/// systemd style "slice:prefix:name": "/<slice expanded>/<prefix>-<name>.scope", the slice
/// "a-b.slice" expanding to "a.slice/a-b.slice" ("" = system.slice); the directory is made
/// directly, not through systemd's D-Bus API.
Result<std::string> hostCgroupPath(const std::string& cgroupsPath);

/// The mounted hierarchies below `root`: {root} when it is a cgroup v2 mount (unified), else
/// each cgroup v1 mount directly below it (a v2 mount there, hybrid's "unified", is skipped:
/// it has no controllers).
struct CgroupHierarchies {
  bool unified = false;
  std::vector<std::string> dirs;
};
Result<CgroupHierarchies> cgroupHierarchies(const std::string& root = "/sys/fs/cgroup");

/// Makes `path` in every hierarchy (a new cpuset level inherits its parent's cpus and mems,
/// v2 parents get the controllers enabled), applies the CPU limits of `r` and moves the
/// calling process in: what it starts afterwards is accounted there.
Status createHostCgroup(const CgroupHierarchies& h, const std::string& path,
                        const oci::Resources* r);

/// Moves the calling process into the existing `path` (before it starts a shim).
Status enterHostCgroup(const CgroupHierarchies& h, const std::string& path);

/// Applies the CPU limits of `r` to `path` (docker update).
Status applyHostCgroup(const CgroupHierarchies& h, const std::string& path,
                       const oci::Resources& r);

/// Removes the leaf of `path` in every hierarchy (its parents may be shared: they stay). The
/// calling process leaves it first when it is inside; processes still exiting are waited for
/// up to a second. A hierarchy where it does not exist is skipped.
Status removeHostCgroup(const CgroupHierarchies& h, const std::string& path);

}  // namespace kata::vc
