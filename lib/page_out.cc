#include "lib/page_out.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "lib/unique_fd.h"

namespace kata {
namespace {

// One line of /proc/<pid>/maps: "start-end perms offset major:minor inode path".
bool mapsLineMatches(const char* line, dev_t dev, ino_t ino, uintptr_t* start, uintptr_t* end) {
  unsigned long long s, e, offset, inode;
  unsigned major, minor;
  char perms[8];
  if (std::sscanf(line, "%llx-%llx %7s %llx %x:%x %llu", &s, &e, perms, &offset, &major, &minor,
                  &inode) != 7)
    return false;
  if (inode != ino || makedev(major, minor) != dev) return false;
  *start = s;
  *end = e;
  return true;
}

}  // namespace

Result<size_t> pageOutFileMappings(int pidfd, pid_t pid, const std::string& file) {
  UniqueFd fd(open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return sysError("open " + file);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return sysError("stat " + file);

  const std::string mapsPath = "/proc/" + std::to_string(pid) + "/maps";
  FILE* maps = std::fopen(mapsPath.c_str(), "re");
  if (!maps) return sysError("open " + mapsPath);
  std::vector<iovec> ranges;
  size_t bytes = 0;
  char* line = nullptr;
  size_t cap = 0;
  while (getline(&line, &cap, maps) > 0) {
    uintptr_t start, end;
    if (!mapsLineMatches(line, st.st_dev, st.st_ino, &start, &end)) continue;
    ranges.push_back({reinterpret_cast<void*>(start), end - start});
    bytes += end - start;
  }
  std::free(line);
  std::fclose(maps);
  if (ranges.empty()) return size_t{0};

  // Usually a few ranges (one per ELF segment); the kernel takes at most IOV_MAX per call.
  for (size_t at = 0; at < ranges.size(); at += IOV_MAX) {
    const size_t n = std::min<size_t>(IOV_MAX, ranges.size() - at);
    if (syscall(SYS_process_madvise, pidfd, ranges.data() + at, n, MADV_PAGEOUT, 0) < 0)
      return sysError("process_madvise " + std::to_string(pid));
  }
  // The kernel dropped the pages only this process mapped from the page cache as well; reading
  // the file back keeps the next user's start (the next VM's boot) off the disk.
  (void)posix_fadvise(fd.get(), 0, 0, POSIX_FADV_WILLNEED);
  return bytes;
}

Result<size_t> pageOutOwnFileMappings(const std::string& file) {
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, getpid(), 0)));
  if (!pidfd) return sysError("pidfd_open");
  return pageOutFileMappings(pidfd.get(), getpid(), file);
}

}  // namespace kata
