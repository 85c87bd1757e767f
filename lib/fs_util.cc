#include "lib/fs_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <random>
#include <vector>

#include "lib/unique_fd.h"

namespace kata {

namespace {

#ifndef STX_MNT_ID
#define STX_MNT_ID 0x1000U
#endif

// True when both fds are on the same mount. The mount id (statx, Linux 5.8+) also tells bind
// mounts of the same filesystem apart; st_dev is the fallback.
bool sameMount(int a, int b) {
  struct statx sa, sb;
  if (statx(a, "", AT_EMPTY_PATH, STX_MNT_ID, &sa) == 0 &&
      statx(b, "", AT_EMPTY_PATH, STX_MNT_ID, &sb) == 0 && (sa.stx_mask & STX_MNT_ID) &&
      (sb.stx_mask & STX_MNT_ID)) {
    return sa.stx_mnt_id == sb.stx_mnt_id;
  }
  struct stat st1, st2;
  if (fstat(a, &st1) != 0 || fstat(b, &st2) != 0) return false;
  return st1.st_dev == st2.st_dev;
}

// Removes every entry of the directory `dirFd` (which it consumes), recursing into
// subdirectories through openat(O_NOFOLLOW) so a symlink is never followed. `path` is only
// for error messages.
Status removeContents(UniqueFd dirFd, const std::string& path) {
  DIR* dir = fdopendir(dirFd.get());
  if (!dir) return sysError("opendir " + path);
  dirFd.release();  // owned by `dir` now
  struct DirCloser {
    DIR* d;
    ~DirCloser() { closedir(d); }
  } closer{dir};
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* e = readdir(dir)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    names.push_back(std::move(name));
  }
  if (errno != 0) return sysError("readdir " + path);
  int fd = dirfd(dir);
  for (const auto& name : names) {
    std::string child = path + "/" + name;
    if (unlinkat(fd, name.c_str(), 0) == 0 || errno == ENOENT) continue;
    if (errno != EISDIR) return sysError("remove " + child);
    int sub = openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0) {
      if (errno == ENOENT) continue;
      return sysError("open " + child);
    }
    // Do not descend into another mount (bind mounts included): an unexpected mount below a
    // state dir must be reported, not emptied.
    if (!sameMount(fd, sub)) {
      close(sub);
      return makeError("remove " + child + ": is a mount point", EBUSY);
    }
    KATA_TRY(removeContents(UniqueFd(sub), child));
    if (unlinkat(fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
      return sysError("remove " + child);
  }
  return okStatus();
}

}  // namespace

Status removeAll(const std::string& path) {
  if (path.empty()) return makeError("removeAll: empty path", EINVAL);
  if (unlink(path.c_str()) == 0 || errno == ENOENT) return okStatus();
  if (errno != EISDIR && errno != EPERM) return sysError("remove " + path);
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return okStatus();
    return sysError("open " + path);
  }
  KATA_TRY(removeContents(UniqueFd(fd), path));
  if (rmdir(path.c_str()) != 0 && errno != ENOENT) return sysError("remove " + path);
  return okStatus();
}

Status mkdirAll(const std::string& path, mode_t mode) {
  if (path.empty()) return makeError("mkdir: empty path", EINVAL);
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    std::string prefix = path.substr(0, pos);
    if (prefix.empty() || prefix.back() == '/') continue;
    if (mkdir(prefix.c_str(), mode) == 0) continue;
    if (errno != EEXIST) return sysError("mkdir " + prefix);
    struct stat st;
    if (stat(prefix.c_str(), &st) != 0) return sysError("stat " + prefix);
    if (!S_ISDIR(st.st_mode)) return makeError("mkdir " + path + ": " + prefix, ENOTDIR);
  }
  return okStatus();
}

Result<std::vector<std::string>> listDir(const std::string& path) {
  DIR* dir = opendir(path.c_str());
  if (!dir) return sysError("open " + path);
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* e = readdir(dir)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  int err = errno;
  closedir(dir);
  if (err != 0) return sysError("read directory " + path, err);
  return names;
}

Result<std::string> readFile(const std::string& path, size_t maxBytes) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd) return sysError("open " + path);
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sysError("read " + path);
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > maxBytes)
      return makeError("read " + path + ": larger than " + std::to_string(maxBytes) + " bytes",
                       EFBIG);
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Status writeFileAtomic(const std::string& path, std::string_view data, mode_t mode,
                       bool exclusive) {
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  if (base.empty()) return makeError("write " + path + ": not a file name", EINVAL);

  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string tmp;
  UniqueFd fd;
  for (int attempt = 0; attempt < 100 && !fd; attempt++) {
    tmp = dir + "/." + base + ".tmp" + std::to_string(rng() % 1000000000);
    fd.reset(open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
    if (!fd && errno != EEXIST) return sysError("create " + tmp);
  }
  if (!fd) return sysError("create temporary file for " + path);
  auto fail = [&](const std::string& what) {
    Error e = sysError(what);
    unlink(tmp.c_str());
    return e;
  };
  // The mode given to open is filtered by the umask; state files must have exactly `mode`.
  if (fchmod(fd.get(), mode) != 0) return fail("chmod " + tmp);
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd.get(), data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("write " + tmp);
    }
    off += static_cast<size_t>(n);
  }
  if (fsync(fd.get()) != 0) return fail("fsync " + tmp);
  fd.reset();
  if (exclusive) {
    // link(2) fails with EEXIST where rename(2) would replace: the first writer wins.
    if (link(tmp.c_str(), path.c_str()) != 0) {
      if (errno == EEXIST) {
        unlink(tmp.c_str());
        return makeError(path + " already exists", EEXIST);
      }
      return fail("link " + tmp + " to " + path);
    }
    unlink(tmp.c_str());
  } else if (rename(tmp.c_str(), path.c_str()) != 0) {
    return fail("rename " + tmp + " to " + path);
  }
  UniqueFd dirFd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dirFd) return sysError("open " + dir);
  // Makes the rename itself durable, not only the file content.
  if (fsync(dirFd.get()) != 0) return sysError("fsync " + dir);
  return okStatus();
}

Status writeControlFile(const std::string& path, std::string_view value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_TRUNC));
  if (!fd) return sysError("open " + path);
  if (::write(fd.get(), value.data(), value.size()) != ssize_t(value.size()))
    return sysError("write \"" + std::string(value) + "\" to " + path);
  return okStatus();
}

Status writeAll(int fd, std::string_view data) {
  bool socket = true;
  while (!data.empty()) {
    ssize_t n = socket ? ::send(fd, data.data(), data.size(), MSG_NOSIGNAL)
                       : ::write(fd, data.data(), data.size());
    if (n < 0 && errno == ENOTSOCK && socket) {
      socket = false;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sysError("write");
    data.remove_prefix(size_t(n));
  }
  return okStatus();
}

std::string readControlFile(const std::string& path) {
  auto text = readFile(path, 1 << 16);
  if (!text.ok()) return "";
  std::string s = std::move(*text);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace kata
