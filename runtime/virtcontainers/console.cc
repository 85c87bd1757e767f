#include "runtime/virtcontainers/console.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>

#include <cstring>

namespace kata::vc {

Result<Pty> openPty(unsigned rows, unsigned cols) {
  Pty pty;
  pty.master.reset(posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!pty.master) return sysError("posix_openpt");
  if (grantpt(pty.master.get()) != 0 || unlockpt(pty.master.get()) != 0)
    return sysError("unlock pty");
  char name[64];
  if (ptsname_r(pty.master.get(), name, sizeof name) != 0) return sysError("ptsname");
  pty.name = name;
  pty.slave.reset(open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!pty.slave) return sysError("open " + pty.name);
  if (rows > 0 && cols > 0) {
    struct winsize ws = {};
    ws.ws_row = static_cast<unsigned short>(rows);
    ws.ws_col = static_cast<unsigned short>(cols);
    if (ioctl(pty.master.get(), TIOCSWINSZ, &ws) != 0) return sysError("set pty size");
  }
  return pty;
}

Status sendConsole(const std::string& socketPath, int master, const std::string& name) {
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (socketPath.size() >= sizeof addr.sun_path)
    return makeError("console socket path too long: " + socketPath, ENAMETOOLONG);
  memcpy(addr.sun_path, socketPath.data(), socketPath.size());
  UniqueFd sock(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock) return sysError("socket");
  if (connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return sysError("connect to console socket " + socketPath);
  struct iovec iov = {const_cast<char*>(name.data()), name.size()};
  char control[CMSG_SPACE(sizeof(int))] = {};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cmsg), &master, sizeof(int));
  // Hands the terminal's master to the caller (containerd/docker), which owns the user's side.
  if (sendmsg(sock.get(), &msg, MSG_NOSIGNAL) < 0) return sysError("send console to " + socketPath);
  return okStatus();
}

}  // namespace kata::vc
