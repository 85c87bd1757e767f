// What the agent does as PID 1 of the guest initrd before serving anything: the base
// filesystems, cgroup v1 hierarchies, loopback, a debug shell on the console when asked, and
// powering the VM off (PID 1 must never exit: the kernel would panic).
#pragma once

#include <string>

#include "agent/reaper.h"
#include "lib/result.h"

namespace kata::agent::init {

/// /proc, /sys, /dev (devtmpfs), /dev/pts, /dev/shm, /run. Already mounted ones are kept.
Status mountBaseFilesystems();
/// A tmpfs at /sys/fs/cgroup with one v1 hierarchy per enabled controller of /proc/cgroups.
Status mountCgroupHierarchies();
/// Brings "lo" up (the kernel then gives it 127.0.0.1).
Status setupLoopback();
/// Respawns /bin/sh on /dev/console whenever it exits, when the image has a shell.
void startDebugConsole(Reaper& reaper);
/// Logs why, syncs and powers the VM off. Never returns.
[[noreturn]] void powerOff(const std::string& reason);

}  // namespace kata::agent::init
