#include "lib/capped_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

namespace kata {
namespace {

Status writeFully(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sysError("write log");
    if (n == 0) return makeError("write log: no progress", EIO);
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return okStatus();
}

}  // namespace

CappedFile::Marker CappedFile::plainMarker(uint64_t maxBytes) {
  return [maxBytes](uint64_t dropped) {
    return "[... " + std::to_string(dropped) + " older bytes dropped: this file is kept under " +
           std::to_string(maxBytes) + " bytes ...]\n";
  };
}

void CappedFile::attach(int fd, uint64_t maxBytes, Marker marker) {
  fd_ = fd;
  readFd_.reset();
  maxBytes_ = 0;
  size_ = 0;
  marker_ = std::move(marker);
  struct stat st;
  if (fd < 0 || maxBytes == 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return;
  // After a truncation, writes must land at the new end: only O_APPEND guarantees that for
  // every descriptor of the file.
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ((flags & O_APPEND) == 0 && ::fcntl(fd, F_SETFL, flags | O_APPEND) != 0))
    return;  // cannot cap it safely: write it as it is
  maxBytes_ = std::max<uint64_t>(maxBytes, 1024);
  size_ = static_cast<uint64_t>(st.st_size);
  if ((flags & O_ACCMODE) != O_RDWR) {
    // Reopens the same open file read-only (the fd's target, never a path someone could swap).
    std::string self = "/proc/self/fd/" + std::to_string(fd);
    readFd_.reset(::open(self.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  }
}

Status CappedFile::append(std::string_view bytes) {
  if (fd_ < 0) return makeError("log file not open", EBADF);
  if (maxBytes_ > 0) {
    const size_t keep = maxBytes_ / 2;
    if (bytes.size() > keep) {
      dropped_ += bytes.size() - keep;
      bytes.remove_prefix(bytes.size() - keep);
    }
    if (size_ + bytes.size() > maxBytes_) KATA_TRY(compact(bytes.size()));
  }
  KATA_TRY(writeFully(fd_, bytes));
  size_ += bytes.size();
  return okStatus();
}

Status CappedFile::compact(size_t incoming) {
  struct stat st;
  if (::fstat(fd_, &st) != 0) return sysError("stat log");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  // Keep the newest half minus what is about to be written, from the start of a line.
  const uint64_t want = maxBytes_ / 2 > incoming ? maxBytes_ / 2 - incoming : 0;
  const uint64_t start = size > want ? size - want : 0;
  const int readFd = readFd_.valid() ? readFd_.get() : fd_;
  std::string kept(size - start, '\0');
  ssize_t n = kept.empty() ? 0 : ::pread(readFd, kept.data(), kept.size(), off_t(start));
  if (n < 0 && errno != EBADF) return sysError("read log");
  if (n < 0) n = 0;  // a write-only file we could not reopen: nothing is kept
  kept.resize(static_cast<size_t>(n));
  // From the first line start; within one endless line, from wherever the cut fell.
  size_t nl = start == 0 ? std::string::npos : kept.find('\n');
  if (nl != std::string::npos) kept.erase(0, nl + 1);
  dropped_ += size - kept.size();
  std::string head = marker_ ? marker_(dropped_) : plainMarker(maxBytes_)(dropped_);
  if (::ftruncate(fd_, 0) != 0) return sysError("truncate log");
  size_ = 0;
  KATA_TRY(writeFully(fd_, head + kept));
  size_ = head.size() + kept.size();
  return okStatus();
}

}  // namespace kata
