#include "agent/initramfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <string>

#include "lib/log.h"
#include "lib/unique_fd.h"

namespace kata::agent::init {
namespace {

constexpr const char* kNewRoot = "/.kata-root";

Status copyTree(int srcDir, int dstDir, dev_t rootDev);

Status copyEntry(int srcDir, int dstDir, const char* name, dev_t rootDev) {
  struct stat st;
  if (fstatat(srcDir, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return sysError(std::string("stat ") + name);
  if (st.st_dev != rootDev) return okStatus();  // another filesystem mounted here: not ours
  if (S_ISDIR(st.st_mode)) {
    if (mkdirat(dstDir, name, st.st_mode & 07777) != 0 && errno != EEXIST)
      return sysError(std::string("mkdir ") + name);
    UniqueFd s(openat(srcDir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    UniqueFd d(openat(dstDir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!s || !d) return sysError(std::string("open dir ") + name);
    KATA_TRY(copyTree(s.get(), d.get(), rootDev));
    (void)fchmod(d.get(), st.st_mode & 07777);
  } else if (S_ISLNK(st.st_mode)) {
    char target[4096];
    ssize_t n = readlinkat(srcDir, name, target, sizeof target - 1);
    if (n < 0) return sysError(std::string("readlink ") + name);
    target[n] = '\0';
    if (symlinkat(target, dstDir, name) != 0) return sysError(std::string("symlink ") + name);
  } else if (S_ISREG(st.st_mode)) {
    UniqueFd s(openat(srcDir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    UniqueFd d(openat(dstDir, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 07777));
    if (!s || !d) return sysError(std::string("copy ") + name);
    off_t left = st.st_size;
    while (left > 0) {
      ssize_t n = sendfile(d.get(), s.get(), nullptr, size_t(left));
      if (n <= 0) return sysError(std::string("copy ") + name);
      left -= n;
    }
  } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
    if (mknodat(dstDir, name, st.st_mode, st.st_rdev) != 0) return sysError(std::string("mknod ") + name);
  } else {
    return okStatus();  // sockets do not survive a copy and none belong in the image
  }
  (void)fchownat(dstDir, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
  return okStatus();
}

Status copyTree(int srcDir, int dstDir, dev_t rootDev) {
  UniqueFd dup(fcntl(srcDir, F_DUPFD_CLOEXEC, 0));
  DIR* dir = fdopendir(dup.release());
  if (!dir) return sysError("opendir");
  Status result;
  while (struct dirent* e = readdir(dir)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (result = copyEntry(srcDir, dstDir, e->d_name, rootDev); !result.ok()) break;
  }
  closedir(dir);
  return result;
}

// Deletes the initramfs' files so that their memory returns to the guest; never crosses into
// another mount (the tmpfs copy, /proc, ...).
void removeTree(int dirFd, dev_t rootDev) {
  UniqueFd dup(fcntl(dirFd, F_DUPFD_CLOEXEC, 0));
  DIR* dir = fdopendir(dup.release());
  if (!dir) return;
  while (struct dirent* e = readdir(dir)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st;
    if (fstatat(dirFd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || st.st_dev != rootDev) continue;
    if (S_ISDIR(st.st_mode)) {
      UniqueFd sub(openat(dirFd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (sub) removeTree(sub.get(), rootDev);
      (void)unlinkat(dirFd, e->d_name, AT_REMOVEDIR);
    } else {
      (void)unlinkat(dirFd, e->d_name, 0);
    }
  }
  closedir(dir);
}

}  // namespace

bool rootIsInitramfs() {
  // The kernel's initial rootfs is a ramfs or a tmpfs; a root= filesystem never is. statfs
  // needs no /proc, which is not mounted yet: mounting it only to read mountinfo, and again
  // afterwards, cost 40 ms of boot under TCG.
  struct statfs fs;
  if (statfs("/", &fs) != 0) return false;
  return fs.f_type == RAMFS_MAGIC || fs.f_type == TMPFS_MAGIC;
}

Status leaveInitramfs() {
  if (!rootIsInitramfs()) return okStatus();

  struct stat rootSt;
  if (stat("/", &rootSt) != 0) return sysError("stat /");
  if (mkdir(kNewRoot, 0755) != 0 && errno != EEXIST) return sysError(std::string("mkdir ") + kNewRoot);
  // The new root: a tmpfs, which (unlike the initial rootfs) can be pivot_root'ed away from.
  if (mount("tmpfs", kNewRoot, "tmpfs", 0, "mode=0755") != 0)
    return sysError(std::string("mount tmpfs on ") + kNewRoot);
  UniqueFd src(open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  UniqueFd dst(open(kNewRoot, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!src || !dst) return sysError("open roots");
  KATA_TRY_CTX(copyTree(src.get(), dst.get(), rootSt.st_dev), "copy initramfs to tmpfs");
  removeTree(src.get(), rootSt.st_dev);
  if (chdir(kNewRoot) != 0) return sysError(std::string("chdir ") + kNewRoot);
  // switch_root: move the tmpfs over / and make it our root.
  if (mount(".", "/", nullptr, MS_MOVE, nullptr) != 0) return sysError("move new root to /");
  if (chroot(".") != 0) return sysError("chroot into the new root");
  if (chdir("/") != 0) return sysError("chdir /");
  return okStatus();
}

}  // namespace kata::agent::init
