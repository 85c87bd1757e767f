#include "agent/rootfs.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <utility>
#include <vector>

#include "lib/safe_path.h"
#include "lib/unique_fd.h"

namespace kata::agent {

namespace {

std::string dirName(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

std::string baseName(const std::string& path) { return path.substr(path.rfind('/') + 1); }

Status mountAt(const std::string& source, int targetFd, const std::string& shownTarget,
               const char* fstype, unsigned long flags, const std::string& data) {
  std::string target = safepath::procFdPath(targetFd);
  if (::mount(source.empty() ? nullptr : source.c_str(), target.c_str(), fstype, flags,
              data.empty() ? nullptr : data.c_str()) != 0) {
    return sysError("mount " + (source.empty() ? std::string("none") : source) + " on " +
                    shownTarget + (fstype ? std::string(" (") + fstype + ")" : ""));
  }
  return okStatus();
}

/// Flags a remount must keep: the kernel refuses to clear "locked" ones.
unsigned long lockedFlags(const std::string& path) {
  struct statvfs sv;
  if (::statvfs(path.c_str(), &sv) != 0) return 0;
  unsigned long out = 0;
  if (sv.f_flag & ST_NOSUID) out |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV) out |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC) out |= MS_NOEXEC;
  if (sv.f_flag & ST_NOATIME) out |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME) out |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME) out |= MS_RELATIME;
  return out;
}

/// Opens (creating when missing) the mount target: a directory, or a file when the source of a
/// bind mount is not a directory.
Result<UniqueFd> openTarget(int rootFd, const std::string& dest, bool wantDir) {
  if (wantDir) {
    KATA_TRY_CTX(safepath::mkdirAllInRoot(rootFd, dest, 0755), "mount target " + dest);
    return safepath::openInRoot(rootFd, dest, O_PATH | O_DIRECTORY);
  }
  KATA_TRY_CTX(safepath::mkdirAllInRoot(rootFd, dirName(dest), 0755), "mount target " + dest);
  auto fd = safepath::openInRoot(rootFd, dest, O_PATH);
  if (fd.ok() || fd.error().code != ENOENT) return fd;
  auto created = safepath::openInRoot(rootFd, dest, O_WRONLY | O_CREAT, 0644);
  if (!created.ok()) return std::move(created).error();
  return safepath::openInRoot(rootFd, dest, O_PATH);
}

Status remountFlags(int rootFd, const std::string& dest, unsigned long flags) {
  KATA_ASSIGN_OR_RETURN(auto fd, safepath::openInRoot(rootFd, dest, O_PATH));
  std::string target = safepath::procFdPath(fd.get());
  flags |= lockedFlags(target);
  // Per-mount flags (ro, nosuid, ...) need a second call on a bind mount.
  if (::mount(nullptr, target.c_str(), nullptr, MS_REMOUNT | MS_BIND | flags, nullptr) != 0) {
    return sysError("remount " + dest);
  }
  return okStatus();
}

Status applyPropagation(int rootFd, const MountSpec& m) {
  if (m.options.propagation.empty()) return okStatus();
  KATA_ASSIGN_OR_RETURN(auto fd, safepath::openInRoot(rootFd, m.destination, O_PATH));
  for (unsigned long p : m.options.propagation) {
    KATA_TRY(mountAt("", fd.get(), m.destination, nullptr, p, ""));
  }
  return okStatus();
}

Status mountCgroups(int rootFd, const MountSpec& m, const RootfsSpec& spec) {
  KATA_ASSIGN_OR_RETURN(auto fd, openTarget(rootFd, m.destination, true));
  // A tmpfs holding one bind mount per hierarchy: the container sees only its own cgroup (as
  // runc's cgroup v1 mount).
  KATA_TRY(mountAt("tmpfs", fd.get(), m.destination, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                   "mode=755"));
  for (const auto& [name, hostDir] : spec.cgroupDirs) {
    std::string dest = m.destination + "/" + name;
    KATA_ASSIGN_OR_RETURN(auto sub, openTarget(rootFd, dest, true));
    KATA_TRY(mountAt(hostDir, sub.get(), dest, nullptr, MS_BIND | MS_REC, ""));
    if (m.options.readonly()) {
      KATA_TRY(remountFlags(rootFd, dest, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC));
    }
  }
  // The tmpfs itself stays writable, as runc leaves it; the hierarchies are read-only.
  return okStatus();
}

Status mountOne(int rootFd, const MountSpec& m, const RootfsSpec& spec) {
  if (m.type == "cgroup") return mountCgroups(rootFd, m, spec);
  if (m.type == "bind") {
    struct stat st;
    if (::stat(m.source.c_str(), &st) != 0) return sysError("bind mount source " + m.source);
    KATA_ASSIGN_OR_RETURN(auto fd, openTarget(rootFd, m.destination, S_ISDIR(st.st_mode)));
    // Shares a host-provided file or volume (already under the shared dir) with the container.
    KATA_TRY(mountAt(m.source, fd.get(), m.destination, nullptr,
                     MS_BIND | (m.options.flags & MS_REC), ""));
    unsigned long extra = m.options.flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
    if (extra) KATA_TRY(remountFlags(rootFd, m.destination, extra));
    return applyPropagation(rootFd, m);
  }
  KATA_ASSIGN_OR_RETURN(auto fd, openTarget(rootFd, m.destination, true));
  unsigned long flags = m.options.flags & ~MS_REMOUNT;
  // /dev gets its device nodes first; finalizeRootfs makes it read-only when asked.
  if (m.destination == "/dev") flags &= ~MS_RDONLY;
  // A fresh kernel filesystem (proc of the new pid namespace, tmpfs, devpts, ...) for the
  // container.
  KATA_TRY(mountAt(m.source.empty() ? m.type : m.source, fd.get(), m.destination, m.type.c_str(),
                   flags, m.options.data));
  return applyPropagation(rootFd, m);
}

/// In a user namespace: an empty file with the agent's own node of that path bound on it.
Status bindNode(int rootFd, const DeviceSpec& d) {
  auto existing = safepath::openInRoot(rootFd, d.path, O_PATH);
  if (existing.ok()) return okStatus();  // a spec device of this path came first
  KATA_ASSIGN_OR_RETURN(auto target, openTarget(rootFd, d.path, false));
  // The agent's device node stands in for one the container's namespace may not create.
  return mountAt(d.path, target.get(), d.path, nullptr, MS_BIND, "");
}

Status makeNode(int rootFd, const DeviceSpec& d, bool inUserNamespace) {
  if (inUserNamespace) return bindNode(rootFd, d);
  KATA_TRY(safepath::mkdirAllInRoot(rootFd, dirName(d.path), 0755));
  KATA_ASSIGN_OR_RETURN(auto dir,
                        safepath::openInRoot(rootFd, dirName(d.path), O_PATH | O_DIRECTORY));
  std::string base = baseName(d.path);
  // Device nodes the spec grants; the devices cgroup still decides what may be opened.
  if (::mknodat(dir.get(), base.c_str(), d.fileType | (d.mode & 07777),
                makedev(d.major, d.minor)) != 0) {
    if (errno == EEXIST) return okStatus();
    // The host's share refuses device nodes (docs/security.md): without a tmpfs on /dev, the
    // guest's own node stands in, as in a user namespace.
    if (errno == EPERM && d.fileType != S_IFIFO) return bindNode(rootFd, d);
    return sysError("create device " + d.path);
  }
  if (::fchownat(dir.get(), base.c_str(), d.uid, d.gid, AT_SYMLINK_NOFOLLOW) != 0) {
    return sysError("chown device " + d.path);
  }
  return okStatus();
}

/// True when the spec bind-mounts something on /dev: runc then leaves /dev alone.
bool devIsBindMount(const RootfsSpec& spec) {
  for (const auto& m : spec.mounts) {
    if (m.destination == "/dev" && m.type == "bind") return true;
  }
  return false;
}

/// The devices and links runc gives every container (a spec device of the same path wins: it
/// was created first).
Status defaultDevices(int rootFd, bool inUserNamespace) {
  static const struct {
    const char* name;
    unsigned major, minor;
  } defaults[] = {{"null", 1, 3}, {"random", 1, 8}, {"full", 1, 7},  // runc's order
                  {"tty", 5, 0},  {"zero", 1, 5},   {"urandom", 1, 9}};
  for (const auto& d : defaults) {
    DeviceSpec node{std::string("/dev/") + d.name, S_IFCHR, d.major, d.minor, 0666, 0, 0};
    KATA_TRY(makeNode(rootFd, node, inUserNamespace));
  }
  KATA_ASSIGN_OR_RETURN(auto dev, safepath::openInRoot(rootFd, "/dev", O_PATH | O_DIRECTORY));
  std::vector<std::pair<const char*, const char*>> links = {{"fd", "/proc/self/fd"},
                                                            {"stdin", "/proc/self/fd/0"},
                                                            {"stdout", "/proc/self/fd/1"},
                                                            {"stderr", "/proc/self/fd/2"}};
  // runc links /dev/core when the kernel has /proc/kcore.
  if (::access("/proc/kcore", F_OK) == 0) links.emplace_back("core", "/proc/kcore");
  for (const auto& [name, target] : links) {
    if (::symlinkat(target, dev.get(), name) != 0 && errno != EEXIST) {
      return sysError(std::string("create /dev/") + name);
    }
  }
  // /dev/ptmx is the container's own devpts's, whatever the rootfs had there.
  if (::unlinkat(dev.get(), "ptmx", 0) != 0 && errno != ENOENT) return sysError("remove /dev/ptmx");
  if (::symlinkat("pts/ptmx", dev.get(), "ptmx") != 0) return sysError("create /dev/ptmx");
  return okStatus();
}

Status maskPath(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return okStatus();
    return sysError("masked path " + path);
  }
  if (S_ISDIR(st.st_mode)) {
    // An empty read-only tmpfs hides the directory's content.
    if (::mount("tmpfs", path.c_str(), "tmpfs", MS_RDONLY, nullptr) != 0) {
      return sysError("mask " + path);
    }
  } else if (::mount("/dev/null", path.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    return sysError("mask " + path);
  }
  return okStatus();
}

Status readonlyPath(const std::string& path) {
  // A read-only bind of the path onto itself.
  if (::mount(path.c_str(), path.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
    if (errno == ENOENT) return okStatus();
    return sysError("bind read-only path " + path);
  }
  unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY | lockedFlags(path);
  if (::mount(nullptr, path.c_str(), nullptr, flags, nullptr) != 0) {
    return sysError("remount read-only " + path);
  }
  return okStatus();
}

Status writeSysctl(const std::string& key, const std::string& value) {
  std::string path = "/proc/sys/";
  for (char c : key) path += (c == '.') ? '/' : c;
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return sysError("sysctl " + key);
  if (::write(fd.get(), value.data(), value.size()) < 0) return sysError("sysctl " + key);
  return okStatus();
}

}  // namespace

Status prepareRootfs(const RootfsSpec& spec) {
  // Nothing the container mounts may propagate back to the agent's namespace.
  if (::mount(nullptr, "/", nullptr, MS_SLAVE | MS_REC, nullptr) != 0) {
    return sysError("make / rslave");
  }
  // pivot_root needs the new root to be a mount point.
  if (::mount(spec.rootfs.c_str(), spec.rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
    return sysError("bind mount rootfs " + spec.rootfs);
  }
  KATA_ASSIGN_OR_RETURN(auto root, safepath::openRoot(spec.rootfs));
  for (const auto& m : spec.mounts) KATA_TRY(mountOne(root.get(), m, spec));
  if (!devIsBindMount(spec)) {
    KATA_TRY(safepath::mkdirAllInRoot(root.get(), "/dev", 0755));
    for (const auto& d : spec.devices) KATA_TRY(makeNode(root.get(), d, spec.inUserNamespace));
    KATA_TRY(defaultDevices(root.get(), spec.inUserNamespace));
  }

  if (::fchdir(root.get()) != 0) return sysError("chdir to rootfs");
  // Swaps the agent's root for the container's; the old root is stacked on "." and detached.
  if (::syscall(SYS_pivot_root, ".", ".") != 0) return sysError("pivot_root " + spec.rootfs);
  if (::umount2(".", MNT_DETACH) != 0) return sysError("detach the old root");
  if (::chdir("/") != 0) return sysError("chdir /");
  if (spec.propagation != 0 && ::mount(nullptr, "/", nullptr, spec.propagation, nullptr) != 0) {
    return sysError("set rootfs propagation");
  }
  return okStatus();
}

Status mountConsole(int slaveFd) {
  UniqueFd console(::open("/dev/console", O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666));
  if (!console) return sysError("create /dev/console");
  // The container's console is its init's terminal.
  if (::mount(safepath::procFdPath(slaveFd).c_str(), "/dev/console", nullptr, MS_BIND, nullptr) !=
      0) {
    return sysError("bind the terminal on /dev/console");
  }
  return okStatus();
}

Status finalizeRootfs(const RootfsSpec& spec) {
  for (const auto& m : spec.mounts) {
    // /dev was mounted writable for its device nodes.
    if (m.destination == "/dev" && m.type != "bind" && m.options.readonly()) {
      unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY | lockedFlags("/dev");
      if (::mount(nullptr, "/dev", nullptr, flags, nullptr) != 0) {
        return sysError("remount /dev read-only");
      }
    }
  }
  if (spec.readonly) {
    unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY | lockedFlags("/");
    if (::mount(nullptr, "/", nullptr, flags, nullptr) != 0) return sysError("remount / read-only");
  }
  if (spec.hostname && ::sethostname(spec.hostname->c_str(), spec.hostname->size()) != 0) {
    return sysError("sethostname");
  }
  for (const auto& [key, value] : spec.sysctls) KATA_TRY(writeSysctl(key, value));
  for (const auto& p : spec.readonlyPaths) KATA_TRY(readonlyPath(p));
  for (const auto& p : spec.maskedPaths) KATA_TRY(maskPath(p));
  return okStatus();
}

}  // namespace kata::agent
