// Test helper standing in for containerd's side of runc's --console-socket protocol:
// listens on a unix socket, receives one pty master (SCM_RIGHTS), then relays its own stdin to
// the terminal and the terminal's output to its stdout until the terminal closes.
// Usage: console_receiver <socket path> [rows cols]
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

int main(int argc, char** argv) {
  if (argc != 2 && argc != 4) {
    fprintf(stderr, "usage: %s SOCKET [ROWS COLS]\n", argv[0]);
    return 2;
  }
  int lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  strncpy(addr.sun_path, argv[1], sizeof addr.sun_path - 1);
  unlink(argv[1]);
  if (bind(lsock, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(lsock, 1) != 0) {
    perror("listen");
    return 1;
  }
  // Tell the test we are listening.
  fprintf(stderr, "listening\n");
  int conn = accept4(lsock, nullptr, nullptr, SOCK_CLOEXEC);
  if (conn < 0) {
    perror("accept");
    return 1;
  }
  char name[256] = {};
  struct iovec iov = {name, sizeof name - 1};
  char control[CMSG_SPACE(sizeof(int))] = {};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  if (recvmsg(conn, &msg, MSG_CMSG_CLOEXEC) <= 0) {
    perror("recvmsg");
    return 1;
  }
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_type != SCM_RIGHTS) {
    fprintf(stderr, "no fd received\n");
    return 1;
  }
  int master;
  memcpy(&master, CMSG_DATA(c), sizeof master);
  fprintf(stderr, "received %s\n", name);
  if (argc == 4) {
    struct winsize ws = {};
    ws.ws_row = static_cast<unsigned short>(atoi(argv[2]));
    ws.ws_col = static_cast<unsigned short>(atoi(argv[3]));
    ioctl(master, TIOCSWINSZ, &ws);
  }
  struct pollfd fds[2] = {{0, POLLIN, 0}, {master, POLLIN, 0}};
  char buf[4096];
  for (;;) {
    if (poll(fds, 2, -1) < 0) continue;
    if (fds[0].revents & (POLLIN | POLLHUP)) {
      ssize_t n = read(0, buf, sizeof buf);
      if (n <= 0) {
        fds[0].fd = -1;  // keep reading the terminal after our input ends
      } else if (write(master, buf, size_t(n)) < 0) {
        break;
      }
    }
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(master, buf, sizeof buf);
      if (n <= 0) break;  // EIO once every slave fd is closed
      if (write(1, buf, size_t(n)) < 0) break;
    }
  }
  return 0;
}
