#include "runtime/virtcontainers/shared_dir.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cstring>

#include "lib/container_id.h"
#include "lib/fs_util.h"
#include "lib/mount.h"
#include "lib/random_hex.h"
#include "lib/safe_path.h"
#include "lib/unique_fd.h"
#include "runtime/virtcontainers/store.h"

namespace kata::vc::shared {
namespace {

std::string sandboxesRoot() { return StorePaths::runDir() + "/kata-containers/shared/sandboxes"; }
std::string mountsDir(const std::string& sid) { return StorePaths::sharedDir(sid) + "/mounts"; }
std::string containerDir(const std::string& sid, const std::string& cid) {
  return mountsDir(sid) + "/" + cid;
}

// A name for a volume's mount point: random (two volumes may share a base name), then the
// source's base name with anything unusual replaced, so that the guest path stays readable.
std::string volumeName(const std::string& source) {
  std::string p = source;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  std::string base = p.substr(p.rfind('/') + 1);
  if (base.empty() || base == "." || base == "..") base = "root";
  if (base.size() > 64) base.resize(64);
  for (char& c : base) {
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
    if (!plain) c = '_';
  }
  return randomHex(8) + "-" + base;
}

// The sandboxes root becomes a private mount point once: the runtime's mounts below it then
// never propagate to the host's peers of /run (systemd makes / and /run shared).
Status ensurePrivateRoot() {
  const std::string root = sandboxesRoot();
  KATA_TRY(mkdirAll(root, 0700));
  KATA_ASSIGN_OR_RETURN(bool mounted, mount::isMountRoot(root));
  if (!mounted) KATA_TRY(mount::bind(root, root, false, false));
  return mount::setPropagation(root, MS_PRIVATE, false);
}

// Attaches a prepared copy of `source` at a new mount point `name` in the container's directory.
Result<SharedFile> attach(const std::string& sid, const std::string& cid, const std::string& name,
                          int sourceFd, const std::string& source, bool recursive,
                          const mount::TreeAttrs& attrs) {
  struct stat st;
  if (fstat(sourceFd, &st) != 0) return sysError("stat " + source);
  KATA_ASSIGN_OR_RETURN(UniqueFd tree, mount::cloneTree(sourceFd, source, recursive, attrs));
  const std::string dir = containerDir(sid, cid);
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return sysError("mkdir " + dir);
  const std::string target = dir + "/" + name;
  // The mount point: created here, exclusively (a second create of the same container must not
  // stack its mount on the first one's).
  if (S_ISDIR(st.st_mode)) {
    if (mkdir(target.c_str(), 0755) != 0) return sysError("mkdir " + target);
  } else {
    UniqueFd f(open(target.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (!f) return sysError("create " + target);
  }
  auto removePoint = [&target, &st] {
    if (S_ISDIR(st.st_mode))
      (void)rmdir(target.c_str());
    else
      (void)unlink(target.c_str());
  };
  UniqueFd targetFd(open(target.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!targetFd) {
    Error e = sysError("open " + target);
    removePoint();
    return e;
  }
  if (auto st2 = mount::attachTree(tree.get(), targetFd.get(), target); !st2.ok()) {
    removePoint();
    return std::move(st2).error();
  }
  return SharedFile{target, std::string(kGuestSharedDir) + "/" + cid + "/" + name};
}

// Removes a mount point left empty by detachAll: never anything below it (if the detach did
// not take, the user's files are there).
Status removeMountPoint(const std::string& path) {
  if (rmdir(path.c_str()) == 0 || errno == ENOENT) return okStatus();
  if (errno == ENOTDIR && (unlink(path.c_str()) == 0 || errno == ENOENT)) return okStatus();
  return sysError("remove mount point " + path);
}

}  // namespace

std::string exportDir(const std::string& sid) { return StorePaths::sharedDir(sid) + "/shared"; }

Status setup(const std::string& sid) {
  const std::string mounts = mountsDir(sid), exported = exportDir(sid);
  KATA_TRY(ensurePrivateRoot());
  KATA_TRY(mkdirAll(mounts, 0700));
  KATA_TRY(mkdirAll(exported, 0700));
  // mounts/ becomes its own peer group so that container mounts propagate to exported/.
  KATA_TRY(mount::bind(mounts, mounts, false, false));
  KATA_TRY(mount::setPropagation(mounts, MS_PRIVATE, false));
  KATA_TRY(mount::setPropagation(mounts, MS_SHARED, false));
  // exported/ receives mounts/' new mounts (slave) and is read-only for the guest.
  KATA_TRY(mount::bind(mounts, exported, false, true));
  KATA_TRY(mount::setPropagation(exported, MS_SLAVE, false));
  return okStatus();
}

Status teardown(const std::string& sid) {
  const std::string dir = StorePaths::sharedDir(sid);
  struct stat st;
  if (lstat(dir.c_str(), &st) != 0 && errno == ENOENT) return okStatus();
  Status first;
  auto keep = [&first](Status s) {
    if (!s.ok() && first.ok()) first = std::move(s);
  };
  // The export first: its slave copies of the container mounts go with it.
  keep(mount::detachAll(exportDir(sid)));
  auto cids = listDir(mountsDir(sid));
  if (cids.ok()) {
    for (const auto& cid : *cids) keep(unshareContainer(sid, cid));
  } else if (cids.error().code != ENOENT) {
    keep(std::move(cids).error());
  }
  keep(mount::detachAll(mountsDir(sid)));
  if (!first.ok()) return first;
  // Only empty directories are left; removeAll never crosses into a mount that stayed.
  return removeAll(dir);
}

Result<SharedFile> shareRootfs(const std::string& sid, const std::string& cid,
                               const std::string& hostRootfs, bool readonly) {
  UniqueFd src(open(hostRootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!src) return sysError("container rootfs " + hostRootfs);
  // Recursive: a rootfs may itself hold mounts the user prepared.
  return attach(sid, cid, "rootfs", src.get(), hostRootfs, true,
                mount::TreeAttrs{readonly, true, true});
}

Result<SharedFile> shareHostPath(const std::string& sid, const std::string& cid,
                                 const std::string& hostSource, bool readonly, bool recursive) {
  UniqueFd src(open(hostSource.c_str(), O_PATH | O_CLOEXEC));
  if (!src) return sysError("mount source " + hostSource);
  return attach(sid, cid, volumeName(hostSource), src.get(), hostSource, recursive,
                mount::TreeAttrs{readonly, true, true});
}

bool isContainerMount(const std::string& sid, const std::string& cid,
                      const std::string& hostMount) {
  const std::string prefix = containerDir(sid, cid) + "/";
  if (hostMount.size() <= prefix.size() || hostMount.compare(0, prefix.size(), prefix) != 0)
    return false;
  std::string name = hostMount.substr(prefix.size());
  return name.find('/') == std::string::npos && name != "." && name != "..";
}

Status unshare(const std::string& sid, const std::string& cid, const std::string& hostMount) {
  if (!isContainerMount(sid, cid, hostMount))
    return makeError("refusing to unmount " + hostMount + ": not a mount of container " + cid,
                     EINVAL);
  KATA_TRY(mount::detachAll(hostMount));
  return removeMountPoint(hostMount);
}

Status unshareContainer(const std::string& sid, const std::string& cid) {
  KATA_TRY(validateContainerId(cid));
  const std::string dir = containerDir(sid, cid);
  auto names = listDir(dir);
  if (!names.ok()) return names.error().code == ENOENT ? okStatus() : std::move(names).error();
  Status first;
  for (const auto& name : *names) {
    Status s = unshare(sid, cid, dir + "/" + name);
    if (!s.ok() && first.ok()) first = std::move(s);
  }
  if (first.ok() && rmdir(dir.c_str()) != 0 && errno != ENOENT) first = sysError("remove " + dir);
  return first;
}

Result<bool> isHostSystemPath(const std::string& source) {
  UniqueFd fd(open(source.c_str(), O_PATH | O_CLOEXEC));
  if (!fd) return sysError("mount source " + source);
  struct statfs sfs;
  if (fstatfs(fd.get(), &sfs) != 0) return sysError("statfs " + source);
  for (unsigned long magic : std::initializer_list<unsigned long>{
           PROC_SUPER_MAGIC, SYSFS_MAGIC, DEVPTS_SUPER_MAGIC, CGROUP_SUPER_MAGIC,
           CGROUP2_SUPER_MAGIC, DEBUGFS_MAGIC, TRACEFS_MAGIC, SECURITYFS_MAGIC, BPF_FS_MAGIC}) {
    if (static_cast<unsigned long>(sfs.f_type) == magic) return true;
  }
  // The path the source really is, symlinks and ".." resolved.
  char real[4096];
  ssize_t n = readlink(safepath::procFdPath(fd.get()).c_str(), real, sizeof real - 1);
  if (n < 0) return sysError("resolve " + source);
  std::string p(real, size_t(n));
  for (const char* prefix : {"/dev", "/proc", "/sys"}) {
    size_t len = strlen(prefix);
    if (p.compare(0, len, prefix) == 0 && (p.size() == len || p[len] == '/')) return true;
  }
  return false;
}

}  // namespace kata::vc::shared
