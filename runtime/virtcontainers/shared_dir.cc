#include "runtime/virtcontainers/shared_dir.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fs_util.h"
#include "lib/mount.h"
#include "lib/random_hex.h"
#include "lib/unique_fd.h"
#include "runtime/virtcontainers/store.h"

namespace kata::vc::shared {
namespace {

std::string mountsDir(const std::string& sid) { return StorePaths::sharedDir(sid) + "/mounts"; }

std::string baseName(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  size_t slash = p.rfind('/');
  std::string b = slash == std::string::npos ? p : p.substr(slash + 1);
  return b.empty() || b == "/" ? "root" : b;
}

}  // namespace

std::string exportDir(const std::string& sid) { return StorePaths::sharedDir(sid) + "/shared"; }

Status setup(const std::string& sid) {
  const std::string mounts = mountsDir(sid), exported = exportDir(sid);
  KATA_TRY(mkdirAll(mounts, 0700));
  KATA_TRY(mkdirAll(exported, 0700));
  // mounts/ becomes its own peer group: private first so that a shared host / never sees our
  // container mounts, then shared so that they propagate to exported/.
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
  KATA_TRY(mount::unmountAllUnder(dir));
  return removeAll(dir);
}

Result<std::string> shareRootfs(const std::string& sid, const std::string& cid,
                                const std::string& hostRootfs) {
  struct stat st;
  if (stat(hostRootfs.c_str(), &st) != 0) return sysError("container rootfs " + hostRootfs);
  if (!S_ISDIR(st.st_mode)) return makeError("container rootfs " + hostRootfs + " is not a directory", ENOTDIR);
  const std::string target = mountsDir(sid) + "/" + cid + "/rootfs";
  KATA_TRY(mkdirAll(target, 0755));
  // Recursive: a rootfs may itself hold mounts the user prepared.
  KATA_TRY(mount::bind(hostRootfs, target, true, false));
  return target;
}

Result<SharedFile> shareHostPath(const std::string& sid, const std::string& cid,
                                 const std::string& hostSource, bool readonly) {
  struct stat st;
  if (stat(hostSource.c_str(), &st) != 0) return sysError("mount source " + hostSource);
  const std::string name = cid + "-" + randomHex(8) + "-" + baseName(hostSource);
  const std::string target = mountsDir(sid) + "/" + name;
  if (S_ISDIR(st.st_mode)) {
    if (mkdir(target.c_str(), 0755) != 0) return sysError("mkdir " + target);
  } else {
    UniqueFd f(open(target.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (!f) return sysError("create " + target);
  }
  auto bound = mount::bind(hostSource, target, true, readonly);
  if (!bound.ok()) {
    (void)removeAll(target);
    return std::move(bound).error();
  }
  return SharedFile{target, std::string(kGuestSharedDir) + "/" + name};
}

Status unshare(const std::string& sid, const std::string& hostMount) {
  if (hostMount.rfind(mountsDir(sid) + "/", 0) != 0)
    return makeError("refusing to unmount " + hostMount + ": not in the shared dir", EINVAL);
  KATA_TRY(mount::unmountAllUnder(hostMount));
  return removeAll(hostMount);
}

}  // namespace kata::vc::shared
