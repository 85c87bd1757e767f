// Thin, error-reporting wrappers around mount(2) and umount2(2). Every error names all
// arguments, so that a failed mount in a log says exactly what was attempted.
#pragma once

#include <sys/mount.h>

#include <string>
#include <utility>

#include "lib/result.h"
#include "lib/unique_fd.h"

namespace kata::mount {

/// mount(2); the error names source, target, fstype, flags and data.
Status mount(const std::string& source, const std::string& target, const std::string& fstype,
             unsigned long flags, const std::string& data = "");

/// Bind-mounts source on target (MS_REC when recursive). Read-only needs a second
/// MS_REMOUNT|MS_BIND|MS_RDONLY call because the kernel ignores MS_RDONLY on the first one.
Status bind(const std::string& source, const std::string& target, bool recursive, bool readonly);

/// Changes the propagation of the mount at target: flag is one of MS_SHARED, MS_SLAVE,
/// MS_PRIVATE, MS_UNBINDABLE; MS_REC is added when recursive.
Status setPropagation(const std::string& target, unsigned long flag, bool recursive);

/// umount2(2). "Not mounted" (EINVAL) and "no such path" (ENOENT) count as success.
Status unmount(const std::string& target, int flags = 0);

/// True when `path` is the root of a mount (per /proc/self/mountinfo).
Result<bool> isMountPoint(const std::string& path);

/// Unmounts every mount at or below `prefix`, deepest first (lazy detach as a last resort).
Status unmountAllUnder(const std::string& prefix);

/// Per-mount flags set on every mount of a cloned tree.
struct TreeAttrs {
  bool readonly = false;
  bool nosuid = true;
  bool nodev = true;
};

/// Clones the mount (or, with `recursive`, the whole mount tree) at `sourceFd`, an open fd of
/// the source path, into a detached tree: every mount in it gets `attrs` and private
/// propagation (so it leaves the source's peer groups: an unmount of the copy can never reach
/// the source's own mounts), before anything can see it. Needs open_tree and mount_setattr
/// (Linux 5.12).
Result<UniqueFd> cloneTree(int sourceFd, const std::string& shownSource, bool recursive,
                           const TreeAttrs& attrs);

/// Attaches a detached tree from cloneTree at `targetFd` (an O_PATH fd of the mount point).
/// Under a shared mount, the copies that propagate to its peers and slaves are clones of the
/// tree with the same per-mount flags.
Status attachTree(int treeFd, int targetFd, const std::string& shownTarget);

/// Lazily detaches the mount at `path` with all mounts below it (MNT_DETACH), never following a
/// symlink in the last component; every mount stacked on `path` goes. A path that is not a
/// mount point is not an error. Only for paths whose every component the caller controls.
Status detachAll(const std::string& path);

/// True when `path` (not followed if a symlink) is the root of a mount (statx
/// STATX_ATTR_MOUNT_ROOT).
Result<bool> isMountRoot(const std::string& path);

/// Unmounts `target` in the destructor unless release() was called.
class ScopedMount {
 public:
  ScopedMount() = default;
  explicit ScopedMount(std::string target, int umountFlags = MNT_DETACH)
      : target_(std::move(target)), flags_(umountFlags) {}
  ScopedMount(ScopedMount&& other) noexcept;
  ScopedMount& operator=(ScopedMount&& other) noexcept;
  ScopedMount(const ScopedMount&) = delete;
  ScopedMount& operator=(const ScopedMount&) = delete;
  ~ScopedMount();

  const std::string& target() const { return target_; }
  /// Keeps the mount; returns its target.
  std::string release();
  /// Unmounts now (idempotent).
  Status reset();

 private:
  std::string target_;
  int flags_ = MNT_DETACH;
};

}  // namespace kata::mount
