// Leaving the initramfs. The kernel's initial rootfs cannot be pivot_root'ed away, and runc-style
// containers need pivot_root. When the agent is PID 1 on an initramfs it therefore copies the
// image into a tmpfs, deletes the initramfs files (freeing their memory) and makes the tmpfs its
// root (MS_MOVE + chroot, as switch_root does); containers can then pivot_root normally.
#pragma once

#include "lib/result.h"

namespace kata::agent::init {

/// True when "/" is the kernel's initial rootfs (a ramfs or tmpfs root).
bool rootIsInitramfs();

/// Moves the agent's root onto a tmpfs copy of the initramfs. Call before anything else is
/// mounted. No-op when "/" is not the initramfs.
Status leaveInitramfs();

}  // namespace kata::agent::init
