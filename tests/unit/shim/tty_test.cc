#include "shim/tty.h"

#include <fcntl.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "lib/unique_fd.h"

// Last: CppUTest redefines operator new for the code that follows.
#include <CppUTest/TestHarness.h>

using kata::shim::RawTerminal;

TEST_GROUP(ShimTty) {
  kata::UniqueFd master, slave;
  void setup() override {
    int m = -1, s = -1;
    CHECK_EQUAL(0, ::openpty(&m, &s, nullptr, nullptr, nullptr));
    master.reset(m);
    slave.reset(s);
  }
};

TEST(ShimTty, RawModeIsSetAndRestored) {
  termios before{};
  CHECK_EQUAL(0, ::tcgetattr(slave.get(), &before));
  CHECK_TRUE((before.c_lflag & (ICANON | ECHO)) != 0);
  {
    auto raw = RawTerminal::enable(slave.get());
    CHECK_TRUE(raw.ok());
    termios now{};
    CHECK_EQUAL(0, ::tcgetattr(slave.get(), &now));
    CHECK_EQUAL(0u, now.c_lflag & (ICANON | ECHO | ISIG));
    CHECK_EQUAL(0u, now.c_oflag & OPOST);
    RawTerminal moved = std::move(*raw);  // the moved-from one must not restore
    CHECK_EQUAL(0, ::tcgetattr(slave.get(), &now));
    CHECK_EQUAL(0u, now.c_lflag & ICANON);
  }
  termios after{};
  CHECK_EQUAL(0, ::tcgetattr(slave.get(), &after));
  CHECK_EQUAL(before.c_lflag, after.c_lflag);
  CHECK_EQUAL(before.c_oflag, after.c_oflag);
}

TEST(ShimTty, RawModeOnANonTerminalFails) {
  int p[2];
  CHECK_EQUAL(0, ::pipe2(p, O_CLOEXEC));
  kata::UniqueFd r(p[0]), w(p[1]);
  auto raw = RawTerminal::enable(r.get());
  CHECK_FALSE(raw.ok());
  CHECK_EQUAL(ENOTTY, raw.error().code);
  CHECK_FALSE(kata::shim::windowSize(r.get()).ok());
}

TEST(ShimTty, WindowSizeReadsTheTerminal) {
  winsize ws{};
  ws.ws_row = 33;
  ws.ws_col = 121;
  CHECK_EQUAL(0, ::ioctl(master.get(), TIOCSWINSZ, &ws));
  auto size = kata::shim::windowSize(slave.get());
  CHECK_TRUE(size.ok());
  CHECK_EQUAL(33, size->rows);
  CHECK_EQUAL(121, size->columns);
}
