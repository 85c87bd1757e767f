// The directory shared with the guest (over 9p or virtio-fs) and how host files enter it.
//
//   <sandboxes>/                 a private mount point: nothing below propagates to the host
//   <sandboxes>/<sb>/mounts/     where the runtime attaches container rootfs and volumes; its
//                                own peer group
//   <sandboxes>/<sb>/mounts/<cid>/rootfs       the container's rootfs
//   <sandboxes>/<sb>/mounts/<cid>/<rand>-<base> one bind-mount volume
//   <sandboxes>/<sb>/shared/     a read-only bind of mounts/ and a slave of it: what QEMU or
//                                virtiofsd exports
//
// The guest sees shared/ at /run/kata-containers/shared/containers. Every path component the
// runtime later mounts on or unmounts is in that read-only view, so the guest can never plant a
// symlink or file where the runtime works; only the attached mounts themselves are writable,
// and only those that are not read-only.
//
// Each rootfs or volume is a detached copy of the source's mount tree with its flags (read-only,
// nosuid, nodev) set on every mount in it and private propagation, attached only once ready:
// the copies that propagate into shared/ (and virtiofsd's namespace) carry the same flags, and
// unmounting ours never reaches the user's own mounts at the source. Teardown detaches each
// attached mount by its path in mounts/ (MNT_DETACH takes everything below it): it never walks
// into a tree the guest can write.
#pragma once

#include <string>

#include "lib/result.h"

namespace kata::vc::shared {

inline constexpr const char* kGuestSharedDir = "/run/kata-containers/shared/containers";

/// The directory QEMU exports for sandbox `sid`.
std::string exportDir(const std::string& sid);

/// Creates the two directories and their mounts. Idempotent failure cleanup is the caller's
/// (teardown undoes a partial setup).
Status setup(const std::string& sid);

/// Detaches everything the runtime attached for the sandbox and removes its shared dir.
Status teardown(const std::string& sid);

struct SharedFile {
  std::string hostMount;  // <sandboxes>/<sb>/mounts/<cid>/<name>
  std::string guestPath;  // kGuestSharedDir/<cid>/<name>
};

/// Shares a container's rootfs (with every mount below it) with the guest, read-only for
/// `readonly` (root.readonly); the guest path is kGuestSharedDir/<cid>/rootfs.
Result<SharedFile> shareRootfs(const std::string& sid, const std::string& cid,
                               const std::string& hostRootfs, bool readonly);

/// Shares a host file or directory (a bind-mount source from config.json) with the guest:
/// with the mounts below it when `recursive` (rbind), read-only on every copy for `readonly`.
Result<SharedFile> shareHostPath(const std::string& sid, const std::string& cid,
                                 const std::string& hostSource, bool readonly, bool recursive);

/// True when `hostMount` is a path shareRootfs/shareHostPath return for (sid, cid): one plain
/// name directly in the container's directory under mounts/.
bool isContainerMount(const std::string& sid, const std::string& cid, const std::string& hostMount);

/// Detaches one mount made by shareRootfs/shareHostPath and removes its mount point.
Status unshare(const std::string& sid, const std::string& cid, const std::string& hostMount);

/// Detaches every mount in the container's directory under mounts/ and removes it: for a
/// container whose list of mounts is lost (a create killed half-way).
Status unshareContainer(const std::string& sid, const std::string& cid);

/// True when `source` (a bind-mount source) is a host kernel or device tree that cannot be
/// shared with a guest: /dev, /proc, /sys or a path below them once symlinks and ".." are
/// resolved, or any path on proc, sysfs, devpts, cgroup, debugfs, tracefs, securityfs, bpffs.
Result<bool> isHostSystemPath(const std::string& source);

}  // namespace kata::vc::shared
