#include "lib/unix_socket.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

namespace kata {
namespace {

Result<sockaddr_un> unixAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    return makeError("invalid unix socket path \"" + path + "\"", ENAMETOOLONG);
  }
  path.copy(addr.sun_path, path.size());
  return addr;
}

Result<UniqueFd> connectOnce(const sockaddr_un& addr) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return sysError("socket");
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) < 0) {
    return sysError("connect");
  }
  return fd;
}

void sleepMs(int ms) {
  struct timespec ts {
    ms / 1000, (ms % 1000) * 1000000L
  };
  nanosleep(&ts, nullptr);
}

}  // namespace

Result<UniqueFd> connectUnix(const std::string& path, int retryMs) {
  KATA_ASSIGN_OR_RETURN(sockaddr_un addr, unixAddress(path));
  const int stepMs = 50;
  for (int waited = 0;; waited += stepMs) {
    auto fd = connectOnce(addr);
    if (fd) return fd;
    int err = fd.error().code;
    bool transient = err == ENOENT || err == ECONNREFUSED || err == EAGAIN;
    if (!transient || waited >= retryMs) return sysError("connect to " + path, err);
    sleepMs(stepMs);
  }
}

Result<UniqueFd> listenUnix(const std::string& path) {
  KATA_ASSIGN_OR_RETURN(sockaddr_un addr, unixAddress(path));
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return makeError("listen socket " + path + " exists and is not a socket", EEXIST);
    }
    if (connectOnce(addr).ok()) {
      return makeError("listen socket " + path + " is in use by another process", EADDRINUSE);
    }
    ::unlink(path.c_str());  // stale socket of a server that died
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return sysError("socket");
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) < 0) {
    return sysError("bind " + path);
  }
  // Only root may connect; nobody can connect before listen(), so no race.
  if (::chmod(path.c_str(), 0600) < 0 || ::listen(fd.get(), SOMAXCONN) < 0) {
    Error e = sysError("listen on " + path);
    ::unlink(path.c_str());
    return e;
  }
  return fd;
}

}  // namespace kata
