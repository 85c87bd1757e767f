// Non-blocking byte I/O on an fd watched by uv::Poll: works the same on sockets, pipes and
// character devices (virtio-serial ports), and never raises SIGPIPE on a socket.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <span>

namespace kata::uv {

/// True when `fd` is a socket (send() with MSG_NOSIGNAL applies).
inline bool isSocket(int fd) {
  int type = 0;
  socklen_t len = sizeof type;
  return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0;
}

/// One write attempt: bytes written, 0 when the fd would block, -errno on failure.
inline ssize_t writeSome(int fd, bool socket, std::span<const uint8_t> data) {
  for (;;) {
    ssize_t n = socket ? ::send(fd, data.data(), data.size(), MSG_NOSIGNAL)
                       : ::write(fd, data.data(), data.size());
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    return -errno;
  }
}

/// One read attempt: bytes read, 0 at end of file, -EAGAIN when nothing is ready, -errno.
inline ssize_t readSome(int fd, std::span<uint8_t> buf) {
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) return -EAGAIN;
    return -errno;
  }
}

}  // namespace kata::uv
