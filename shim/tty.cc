#include "shim/tty.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <utility>

namespace kata::shim {

RawTerminal::RawTerminal(RawTerminal&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), saved_(other.saved_) {}

RawTerminal& RawTerminal::operator=(RawTerminal&& other) noexcept {
  if (this != &other) {
    restore();
    fd_ = std::exchange(other.fd_, -1);
    saved_ = other.saved_;
  }
  return *this;
}

RawTerminal::~RawTerminal() { restore(); }

Result<RawTerminal> RawTerminal::enable(int fd) {
  RawTerminal t;
  if (::tcgetattr(fd, &t.saved_) != 0) return sysError("get terminal attributes");
  termios raw = t.saved_;
  ::cfmakeraw(&raw);
  if (::tcsetattr(fd, TCSANOW, &raw) != 0) return sysError("set terminal raw mode");
  t.fd_ = fd;
  return t;
}

void RawTerminal::restore() {
  if (fd_ < 0) return;
  // Best effort: the other end of the pty may be gone already.
  (void)::tcsetattr(fd_, TCSANOW, &saved_);
  fd_ = -1;
}

Result<WindowSize> windowSize(int fd) {
  winsize ws{};
  if (::ioctl(fd, TIOCGWINSZ, &ws) != 0) return sysError("get terminal window size");
  return WindowSize{ws.ws_row, ws.ws_col};
}

}  // namespace kata::shim
