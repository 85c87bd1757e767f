// The directory shared with the guest (over 9p or virtio-fs) and how host files enter it.
//
//   <shared>/mounts/  where the runtime mounts container rootfs and volumes (a shared mount)
//   <shared>/shared/  a read-only bind of mounts/ and a slave of it: what QEMU exports
//
// The guest sees shared/ at /run/kata-containers/shared/containers. Because that view is
// read-only, the guest cannot plant symlinks or files where the runtime later creates mount
// points; only the propagated rootfs and volume mounts inside it are writable. We set up the
// propagation ourselves: the host's / need not be a shared mount.
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

/// Unmounts everything below the sandbox's shared dir (deepest first) and removes it.
Status teardown(const std::string& sid);

/// Bind-mounts a container's rootfs (recursively) into the share. Returns the host mount path;
/// the guest path is kGuestSharedDir/<cid>/rootfs.
Result<std::string> shareRootfs(const std::string& sid, const std::string& cid,
                                const std::string& hostRootfs);

struct SharedFile {
  std::string hostMount;  // under <shared>/mounts/
  std::string guestPath;  // under kGuestSharedDir
};

/// Shares a host file or directory (a bind-mount source from config.json) with the guest.
Result<SharedFile> shareHostPath(const std::string& sid, const std::string& cid,
                                 const std::string& hostSource, bool readonly);

/// Unmounts a mount made by shareRootfs/shareHostPath and removes its mount point.
Status unshare(const std::string& sid, const std::string& hostMount);

}  // namespace kata::vc::shared
