#include "lib/safe_path.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <deque>
#include <vector>

namespace kata::safepath {

namespace {

constexpr int kMaxSymlinks = 40;  // the kernel's own limit (MAXSYMLINKS)

std::atomic<bool> gForceFallback{false};
// -1 unknown, 0 missing, 1 present.
std::atomic<int> gKernelHasOpenat2{-1};

int rawOpenat2(int dirFd, const char* path, int flags, mode_t mode, uint64_t resolve) {
  struct open_how how = {};
  how.flags = static_cast<uint64_t>(flags) | O_CLOEXEC;
  // openat2 rejects a non-zero mode unless a file may be created.
  if (flags & (O_CREAT | O_TMPFILE)) how.mode = mode;
  how.resolve = resolve;
  for (int attempt = 0;; attempt++) {
    long fd = syscall(SYS_openat2, dirFd, path, &how, sizeof how);
    // EAGAIN: a concurrent rename or mount raced the lookup; the kernel asks us to retry.
    if (fd < 0 && (errno == EAGAIN || errno == EINTR) && attempt < 32) continue;
    return static_cast<int>(fd);
  }
}

std::string describe(std::string_view path) { return "\"" + std::string(path) + "\""; }

std::deque<std::string> splitPath(std::string_view path) {
  std::deque<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) parts.emplace_back(path.substr(i, j - i));
    i = j + 1;
  }
  return parts;
}

Result<std::string> readLinkAt(int fd, const std::string& what) {
  std::string buf(256, '\0');
  for (;;) {
    // An O_PATH fd of a symlink with an empty name reads the link itself (Linux 2.6.39+).
    ssize_t n = readlinkat(fd, "", buf.data(), buf.size());
    if (n < 0) return sysError("readlink " + what);
    if (static_cast<size_t>(n) < buf.size()) {
      buf.resize(static_cast<size_t>(n));
      return buf;
    }
    if (buf.size() >= 65536) return makeError("readlink " + what, ENAMETOOLONG);
    buf.resize(buf.size() * 2);
  }
}

enum class WalkMode {
  Open,      // open the final component with the caller's flags
  MkdirAll,  // create every missing component as a directory; return the last one (O_PATH)
  Resolve,   // return the final component (O_PATH), or its parent and name when it is missing
};

struct WalkResult {
  UniqueFd fd;              // the target, or its parent directory when `missing` is set
  std::string missingName;  // set in Resolve mode when the last component does not exist
};

// The fallback resolver: walks `path` one component at a time from `rootFd`, never letting the
// kernel follow a symlink (O_NOFOLLOW | O_PATH) and expanding symlinks itself. The directories
// walked through are kept on a stack, so ".." is answered from it and can never climb above
// the root, and an absolute symlink restarts from the root.
Result<WalkResult> walk(int rootFd, std::string_view path, WalkMode mode, int flags,
                        mode_t fileMode) {
  std::vector<UniqueFd> stack;
  stack.emplace_back(openat(rootFd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!stack.back()) return sysError("open root");
  std::deque<std::string> parts = splitPath(path);
  int symlinks = 0;
  int retries = 0;
  while (!parts.empty()) {
    std::string name = std::move(parts.front());
    parts.pop_front();
    bool last = parts.empty();
    if (name == ".") continue;
    if (name == "..") {
      if (stack.size() > 1) stack.pop_back();
      continue;
    }
    int cur = stack.back().get();
    UniqueFd fd(openat(cur, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
      if (errno != ENOENT) return sysError("open " + describe(path) + " in root");
      if (mode == WalkMode::MkdirAll) {
        if (mkdirat(cur, name.c_str(), fileMode) != 0 && errno != EEXIST)
          return sysError("mkdir " + describe(path) + " in root");
        if (++retries > 1000) return makeError("mkdir " + describe(path) + " in root", EAGAIN);
        parts.push_front(std::move(name));  // open what now exists
        continue;
      }
      if (last && mode == WalkMode::Resolve) {
        UniqueFd parent(openat(cur, ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!parent) return sysError("open " + describe(path) + " in root");
        return WalkResult{std::move(parent), name};
      }
      if (last && (flags & O_CREAT)) {
        // O_NOFOLLOW: a symlink planted since the check above is refused, not followed.
        UniqueFd created(openat(cur, name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC, fileMode));
        if (!created) return sysError("open " + describe(path) + " in root");
        return WalkResult{std::move(created), {}};
      }
      return makeError("open " + describe(path) + " in root", ENOENT);
    }
    struct stat st;
    if (fstat(fd.get(), &st) != 0) return sysError("stat " + describe(path) + " in root");
    if (S_ISLNK(st.st_mode)) {
      if (last && mode == WalkMode::Open && (flags & O_NOFOLLOW)) {
        // The caller asked for the link itself: O_PATH opens it, anything else is ELOOP.
        UniqueFd link(openat(cur, name.c_str(), flags | O_CLOEXEC, fileMode));
        if (!link) return sysError("open " + describe(path) + " in root");
        return WalkResult{std::move(link), {}};
      }
      if (last && mode == WalkMode::Open && (flags & O_CREAT) && (flags & O_EXCL)) {
        // O_CREAT|O_EXCL never follows a final symlink (same as open(2) and openat2).
        return makeError("open " + describe(path) + " in root", EEXIST);
      }
      if (++symlinks > kMaxSymlinks)
        return makeError("open " + describe(path) + " in root: too many symlinks", ELOOP);
      KATA_ASSIGN_OR_RETURN(std::string target, readLinkAt(fd.get(), describe(path) + " in root"));
      if (target.empty()) return makeError("open " + describe(path) + " in root", ENOENT);
      if (target[0] == '/') stack.resize(1);  // absolute links are relative to the root
      std::deque<std::string> targetParts = splitPath(target);
      // A link to "/" or "." still names a directory that the remaining parts continue from.
      parts.insert(parts.begin(), targetParts.begin(), targetParts.end());
      continue;
    }
    if (last) {
      if (mode == WalkMode::Open) {
        UniqueFd target(openat(cur, name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC, fileMode));
        if (!target) return sysError("open " + describe(path) + " in root");
        return WalkResult{std::move(target), {}};
      }
      if (mode == WalkMode::MkdirAll && !S_ISDIR(st.st_mode))
        return makeError("mkdir " + describe(path) + " in root: not a directory", ENOTDIR);
      return WalkResult{std::move(fd), {}};
    }
    if (!S_ISDIR(st.st_mode))
      return makeError("open " + describe(path) + " in root: not a directory", ENOTDIR);
    stack.push_back(std::move(fd));
  }
  // The path ended at a directory on the stack ("", "/", ".", "a/..").
  int dir = stack.back().get();
  if (mode == WalkMode::Open) {
    UniqueFd target(openat(dir, ".", flags | O_CLOEXEC, fileMode));
    if (!target) return sysError("open " + describe(path) + " in root");
    return WalkResult{std::move(target), {}};
  }
  return WalkResult{std::move(stack.back()), {}};
}

Result<std::string> fdPath(int fd, const std::string& what) {
  std::string link = procFdPath(fd);
  std::string buf(4096, '\0');
  ssize_t n = readlink(link.c_str(), buf.data(), buf.size());
  if (n < 0) return sysError("readlink " + link + " (" + what + ")");
  if (static_cast<size_t>(n) >= buf.size()) return makeError("readlink " + link, ENAMETOOLONG);
  buf.resize(static_cast<size_t>(n));
  return buf;
}

}  // namespace

void forceFallbackForTesting(bool force) { gForceFallback = force; }

bool openat2Available() {
  if (gForceFallback) return false;
  int known = gKernelHasOpenat2.load();
  if (known < 0) {
    int fd = rawOpenat2(AT_FDCWD, "/", O_PATH | O_DIRECTORY, 0, RESOLVE_NO_MAGICLINKS);
    known = (fd >= 0 || errno != ENOSYS) ? 1 : 0;
    if (fd >= 0) close(fd);
    gKernelHasOpenat2 = known;
  }
  return known == 1;
}

std::string procFdPath(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

Result<UniqueFd> openRoot(const std::string& dir) {
  UniqueFd fd(open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return sysError("open root " + dir);
  return fd;
}

Result<UniqueFd> openInRoot(int rootFd, std::string_view path, int flags, mode_t mode) {
  if (openat2Available()) {
    std::string p(path.empty() ? "/" : path);
    int fd = rawOpenat2(rootFd, p.c_str(), flags, mode, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    if (fd >= 0) return UniqueFd(fd);
    if (errno != ENOSYS) return sysError("open " + describe(path) + " in root");
    gKernelHasOpenat2 = 0;
  }
  KATA_ASSIGN_OR_RETURN(WalkResult r, walk(rootFd, path, WalkMode::Open, flags, mode));
  return std::move(r.fd);
}

Status mkdirAllInRoot(int rootFd, std::string_view path, mode_t mode) {
  // Always the component walk: openat2 cannot create directories, and each step here opens
  // with O_NOFOLLOW relative to a directory already proven to be inside the root.
  KATA_ASSIGN_OR_RETURN(WalkResult r, walk(rootFd, path, WalkMode::MkdirAll, 0, mode));
  if (openat2Available()) {
    // Cross-check with the kernel's confined lookup that what was created is the directory
    // the path names inside the root.
    int fd = rawOpenat2(rootFd, std::string(path.empty() ? "/" : path).c_str(),
                        O_PATH | O_DIRECTORY, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    if (fd < 0) return sysError("mkdir " + describe(path) + " in root: verify");
    UniqueFd check(fd);
    struct stat a, b;
    if (fstat(check.get(), &a) != 0 || fstat(r.fd.get(), &b) != 0)
      return sysError("mkdir " + describe(path) + " in root: stat");
    if (a.st_dev != b.st_dev || a.st_ino != b.st_ino)
      return makeError("mkdir " + describe(path) + " in root: path changed during creation", EXDEV);
  }
  return okStatus();
}

Result<std::string> resolveInRoot(const std::string& root, std::string_view path) {
  KATA_ASSIGN_OR_RETURN(UniqueFd rootFd, openRoot(root));
  if (openat2Available()) {
    std::string p(path.empty() ? "/" : path);
    int fd =
        rawOpenat2(rootFd.get(), p.c_str(), O_PATH, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    if (fd >= 0) {
      UniqueFd target(fd);
      return fdPath(target.get(), "resolve " + describe(path) + " in " + root);
    }
    // A missing last component is answered by the walk below (parent + name).
    if (errno != ENOENT && errno != ENOSYS)
      return sysError("resolve " + describe(path) + " in " + root);
  }
  auto r = walk(rootFd.get(), path, WalkMode::Resolve, O_PATH, 0);
  if (!r.ok()) return std::move(r).error().wrap("in " + root);
  KATA_ASSIGN_OR_RETURN(std::string base,
                        fdPath(r->fd.get(), "resolve " + describe(path) + " in " + root));
  if (r->missingName.empty()) return base;
  return (base == "/" ? base : base + "/") + r->missingName;
}

}  // namespace kata::safepath
