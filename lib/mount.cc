#include "lib/mount.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "lib/fs_util.h"

namespace kata::mount {

namespace {

std::string flagNames(unsigned long flags) {
  static const std::pair<unsigned long, const char*> kNames[] = {
      {MS_RDONLY, "MS_RDONLY"},
      {MS_NOSUID, "MS_NOSUID"},
      {MS_NODEV, "MS_NODEV"},
      {MS_NOEXEC, "MS_NOEXEC"},
      {MS_SYNCHRONOUS, "MS_SYNCHRONOUS"},
      {MS_REMOUNT, "MS_REMOUNT"},
      {MS_MANDLOCK, "MS_MANDLOCK"},
      {MS_DIRSYNC, "MS_DIRSYNC"},
      {MS_NOATIME, "MS_NOATIME"},
      {MS_NODIRATIME, "MS_NODIRATIME"},
      {MS_BIND, "MS_BIND"},
      {MS_MOVE, "MS_MOVE"},
      {MS_REC, "MS_REC"},
      {MS_SILENT, "MS_SILENT"},
      {MS_UNBINDABLE, "MS_UNBINDABLE"},
      {MS_PRIVATE, "MS_PRIVATE"},
      {MS_SLAVE, "MS_SLAVE"},
      {MS_SHARED, "MS_SHARED"},
      {MS_RELATIME, "MS_RELATIME"},
      {MS_STRICTATIME, "MS_STRICTATIME"},
      {MS_LAZYTIME, "MS_LAZYTIME"},
  };
  std::string out;
  unsigned long rest = flags;
  for (const auto& [bit, name] : kNames) {
    if (flags & bit) {
      if (!out.empty()) out += '|';
      out += name;
      rest &= ~bit;
    }
  }
  if (rest) {
    if (!out.empty()) out += '|';
    char hex[32];
    snprintf(hex, sizeof hex, "0x%lx", rest);
    out += hex;
  }
  return out.empty() ? "0" : out;
}

// Undoes the octal escapes (\040 for space, ...) that /proc/self/mountinfo uses in paths.
std::string unescapeMountPath(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '7' && s[i + 2] >= '0' &&
        s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Mount points (field 5 of mountinfo), in mount order.
Result<std::vector<std::string>> mountPoints() {
  KATA_ASSIGN_OR_RETURN(std::string info, readFile("/proc/self/mountinfo", 64 << 20));
  std::vector<std::string> points;
  size_t pos = 0;
  while (pos < info.size()) {
    size_t end = info.find('\n', pos);
    if (end == std::string::npos) end = info.size();
    std::string_view line(info.data() + pos, end - pos);
    pos = end + 1;
    // id parent major:minor root mountpoint ...
    size_t field = 0, start = 0;
    for (size_t i = 0; i <= line.size(); i++) {
      if (i == line.size() || line[i] == ' ') {
        if (field == 4) {
          points.push_back(unescapeMountPath(line.substr(start, i - start)));
          break;
        }
        field++;
        start = i + 1;
      }
    }
  }
  return points;
}

std::string cleanPath(const std::string& path) {
  std::string out = path;
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

}  // namespace

Status mount(const std::string& source, const std::string& target, const std::string& fstype,
             unsigned long flags, const std::string& data) {
  if (::mount(source.c_str(), target.c_str(), fstype.empty() ? nullptr : fstype.c_str(), flags,
              data.empty() ? nullptr : data.c_str()) != 0) {
    return sysError("mount source=" + source + " target=" + target + " type=" + fstype +
                    " flags=" + flagNames(flags) + " data=\"" + data + "\"");
  }
  return okStatus();
}

Status bind(const std::string& source, const std::string& target, bool recursive, bool readonly) {
  unsigned long flags = MS_BIND | (recursive ? MS_REC : 0);
  KATA_TRY(mount(source, target, "", flags));
  if (readonly) {
    // The kernel ignores MS_RDONLY on the initial bind; only a remount applies it.
    auto st = mount("", target, "", flags | MS_REMOUNT | MS_RDONLY);
    if (!st.ok()) {
      (void)unmount(target, MNT_DETACH);  // leave nothing half-done behind
      return st;
    }
  }
  return okStatus();
}

Status setPropagation(const std::string& target, unsigned long flag, bool recursive) {
  unsigned long allowed = MS_SHARED | MS_SLAVE | MS_PRIVATE | MS_UNBINDABLE;
  if ((flag & allowed) == 0 || (flag & ~allowed) != 0)
    return makeError("set propagation of " + target + ": bad flag " + flagNames(flag), EINVAL);
  return mount("", target, "", flag | (recursive ? MS_REC : 0));
}

Status unmount(const std::string& target, int flags) {
  if (umount2(target.c_str(), flags) != 0) {
    if (errno == EINVAL || errno == ENOENT) return okStatus();  // not mounted: nothing to do
    return sysError("unmount " + target);
  }
  return okStatus();
}

Result<bool> isMountPoint(const std::string& path) {
  char* real = realpath(path.c_str(), nullptr);
  if (!real) return sysError("resolve " + path);
  std::string resolved(real);
  free(real);
  KATA_ASSIGN_OR_RETURN(auto points, mountPoints());
  return std::find(points.begin(), points.end(), resolved) != points.end();
}

Status unmountAllUnder(const std::string& prefix) {
  std::string root = cleanPath(prefix);
  // mountinfo lists canonical paths; a prefix reached through a symlink must match them.
  if (char* real = realpath(root.c_str(), nullptr)) {
    root = real;
    free(real);
  }
  KATA_ASSIGN_OR_RETURN(auto points, mountPoints());
  std::vector<std::string> under;
  for (const auto& p : points) {
    if (p == root || (p.size() > root.size() && p.compare(0, root.size(), root) == 0 &&
                      (root == "/" || p[root.size()] == '/'))) {
      under.push_back(p);
    }
  }
  // Deepest first; at equal depth the later mount first (it may sit on top of the earlier).
  std::reverse(under.begin(), under.end());
  std::stable_sort(under.begin(), under.end(), [](const std::string& a, const std::string& b) {
    return std::count(a.begin(), a.end(), '/') > std::count(b.begin(), b.end(), '/');
  });
  Status first;
  for (const auto& p : under) {
    if (umount2(p.c_str(), 0) == 0 || errno == EINVAL || errno == ENOENT) continue;
    // Busy: detach it from the tree now; the kernel frees it when the last user goes away.
    if (umount2(p.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT && first.ok())
      first = sysError("unmount " + p);
  }
  return first;
}

Result<UniqueFd> cloneTree(int sourceFd, const std::string& shownSource, bool recursive,
                           const TreeAttrs& attrs) {
  // A detached copy of the source's mount (tree): nothing sees it until attachTree.
  UniqueFd tree(::open_tree(
      sourceFd, "",
      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0)));
  if (!tree) return sysError("clone the mount tree of " + shownSource);
  struct mount_attr attr = {};
  attr.attr_set = (attrs.readonly ? MOUNT_ATTR_RDONLY : 0) |
                  (attrs.nosuid ? MOUNT_ATTR_NOSUID : 0) | (attrs.nodev ? MOUNT_ATTR_NODEV : 0);
  attr.propagation = MS_PRIVATE;
  // Every mount of the copy, nested ones included (a remount would change only the top one),
  // gets the flags, and leaves the source's peer groups, while still detached.
  if (::mount_setattr(tree.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) != 0)
    return sysError("set the attributes of the copy of " + shownSource);
  return tree;
}

Status attachTree(int treeFd, int targetFd, const std::string& shownTarget) {
  // Puts the prepared copy in place; peers and slaves of the target's mount get clones of it.
  if (::move_mount(treeFd, "", targetFd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) !=
      0)
    return sysError("attach a mount at " + shownTarget);
  return okStatus();
}

Status detachAll(const std::string& path) {
  // Bounded: stacked mounts (a second mount on the same point) go one per call.
  for (int i = 0; i < 64; i++) {
    if (umount2(path.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0) {
      if (errno == EINVAL || errno == ENOENT) return okStatus();  // no (more) mount there
      return sysError("detach the mount at " + path);
    }
  }
  return makeError("detach the mount at " + path + ": more than 64 mounts stacked", EBUSY);
}

Result<bool> isMountRoot(const std::string& path) {
  struct statx stx;
  if (::statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW, 0, &stx) != 0)
    return sysError("statx " + path);
  if (!(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
    return makeError("statx " + path + ": the kernel does not report mount roots", ENOTSUP);
  return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
}

ScopedMount::ScopedMount(ScopedMount&& other) noexcept
    : target_(other.release()), flags_(other.flags_) {}

ScopedMount& ScopedMount::operator=(ScopedMount&& other) noexcept {
  if (this != &other) {
    (void)reset();
    flags_ = other.flags_;
    target_ = other.release();
  }
  return *this;
}

ScopedMount::~ScopedMount() { (void)reset(); }

std::string ScopedMount::release() { return std::exchange(target_, std::string()); }

Status ScopedMount::reset() {
  if (target_.empty()) return okStatus();
  std::string target = release();
  return unmount(target, flags_);
}

}  // namespace kata::mount
