// Relays an out-of-memory kill inside the guest to the host, where Docker looks for it.
//
// containerd's runc shim (which Docker 20.10 runs kata-runtime under) watches the host memory
// cgroup of the container's pid, the init kata-shim, and reports TaskOOM (docker inspect's
// OOMKilled) when that cgroup signals an OOM on cgroup v1's memory.oom_control. A guest OOM
// never reaches the host cgroup by itself: the guest's RAM is the VM's, within its size. With
// runtime.sandbox_cgroup_only the shim runs in the container's own host cgroup, and on the
// agent's GetOOMEvent for its container it makes that cgroup signal one, killing nothing:
//
//   a helper (this binary again, `kata-shim -oom-notify-cgroup DIR`) leaves the cgroup for its
//   parent, sets oom_kill_disable and swappiness 0, lowers the limit to the usage plus 4 MiB,
//   and lets a child it left inside allocate past it. The child waits in the kernel's OOM wait
//   (the notification fires), the helper puts the limit and the settings back and kills the
//   child. Other processes of the cgroup (QEMU) that allocate in those milliseconds wait too;
//   page cache of the cgroup above the limit may be dropped; nothing is swapped or killed.
//
// cgroup v2 (memory.events' oom_kill) would need a real kill in the container's cgroup: not
// offered, the relay says why in the shim's log.
#pragma once

#include <string>

#include "lib/result.h"

namespace kata::shim {

/// The directory of this process's cgroup v1 memory cgroup, from /proc/self/cgroup
/// (`procCgroup` is its text), below `memoryRoot`. Errors for v2-only and the root cgroup.
Result<std::string> ownMemoryCgroup(const std::string& procCgroup,
                                    const std::string& memoryRoot = "/sys/fs/cgroup/memory");

/// Runs the helper (this binary with -oom-notify-cgroup) and waits for it.
Status relayOom();

/// The helper's body: makes `dir` signal an OOM as described above. Returns its exit code.
int notifyOomHelper(const std::string& dir);

}  // namespace kata::shim
