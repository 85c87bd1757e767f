#include "agent/stdio.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string_view>
#include <thread>

// CppUTest comes last: its leak-checking macros redefine new.
#include <CppUTest/TestHarness.h>

using namespace kata::agent;

namespace {

// Fills the ring in place as the output pump does; returns how many bytes fitted.
size_t push(RingBuffer& rb, std::string_view data) {
  size_t done = 0;
  for (;;) {
    auto [dst, room] = rb.tailSpace();
    size_t n = std::min(room, data.size() - done);
    if (n == 0) return done;
    std::memcpy(dst, data.data() + done, n);
    rb.commit(n);
    done += n;
  }
}

}  // namespace

TEST_GROUP(AgentStdio){};

TEST(AgentStdio, RingBufferWrapsAround) {
  RingBuffer rb(8);
  CHECK_EQUAL(5u, push(rb, "abcde"));
  std::string out;
  CHECK_EQUAL(3u, rb.pop(out, 3));
  STRCMP_EQUAL("abc", out.c_str());
  CHECK_EQUAL(3u, rb.tailSpace().second);  // contiguous room up to the end only
  CHECK_EQUAL(6u, push(rb, "fghijkl"));    // only 6 bytes of room, in two pieces
  CHECK_EQUAL(0u, rb.space());
  CHECK_EQUAL(0u, rb.tailSpace().second);
  out.clear();
  CHECK_EQUAL(8u, rb.pop(out, 100));
  STRCMP_EQUAL("defghijk", out.c_str());
  CHECK_EQUAL(0u, rb.size());
}

TEST(AgentStdio, OutputStreamDeliversEverythingThenEof) {
  int fds[2];
  CHECK_EQUAL(0, ::pipe2(fds, O_CLOEXEC));
  OutputStream stream(kata::UniqueFd(fds[0]), false, 16);  // tiny buffer: backpressure
  std::string expected;
  for (int i = 0; i < 1000; ++i) expected += std::to_string(i) + ",";
  std::thread writer([&] {
    ::write(fds[1], expected.data(), expected.size());
    ::close(fds[1]);
  });
  std::string got;
  for (;;) {
    std::string chunk = stream.read(7, nullptr);
    if (chunk.empty()) break;
    CHECK(chunk.size() <= 7);
    got += chunk;
  }
  writer.join();
  CHECK(got == expected);
  CHECK(stream.drained());
}

TEST(AgentStdio, ReadReturnsEmptyWhenCancelled) {
  int fds[2];
  CHECK_EQUAL(0, ::pipe2(fds, O_CLOEXEC));
  OutputStream stream(kata::UniqueFd(fds[0]), false);
  int calls = 0;
  std::string chunk = stream.read(10, [&] { return ++calls > 2; });
  CHECK(chunk.empty());
  CHECK(!stream.drained());  // not EOF: the writer is still open
  ::write(fds[1], "x", 1);
  STRCMP_EQUAL("x", stream.read(10, nullptr).c_str());
  ::close(fds[1]);
}

TEST(AgentStdio, InputStreamWritesAndCloses) {
  auto pair = createStdio(false);
  CHECK(pair.ok());
  InputStream in(std::move(pair->stdinWrite), false);
  auto n = in.write("hello", nullptr);
  CHECK(n.ok());
  CHECK_EQUAL(5u, *n);
  CHECK(in.close().ok());
  char buf[16];
  CHECK_EQUAL(5, ::read(pair->childIn.get(), buf, sizeof buf));
  CHECK_EQUAL(0, ::read(pair->childIn.get(), buf, sizeof buf));  // EOF after close
  auto late = in.write("more", nullptr);  // accepted and dropped, as upstream's agent does
  CHECK(late.ok());
  CHECK_EQUAL(0u, *late);
}

TEST(AgentStdio, AfterTheProcessExitedTheStreamEndsOnceTheGraceHasPassedAndThePipeIsEmpty) {
  int fds[2];
  CHECK_EQUAL(0, ::pipe2(fds, O_CLOEXEC));
  kata::UniqueFd heldByAChild(fds[1]);  // the writer never closes
  OutputStream stream(kata::UniqueFd(fds[0]), false);
  CHECK_EQUAL(6, ::write(heldByAChild.get(), "before", 6));
  auto t0 = std::chrono::steady_clock::now();
  stream.processExited(std::chrono::milliseconds(300));
  std::string got;
  for (;;) {
    std::string chunk = stream.read(100, nullptr);
    if (chunk.empty()) break;
    got += chunk;
    // Output still coming in the grace period is delivered.
    if (got == "before") CHECK_EQUAL(6, ::write(heldByAChild.get(), "during", 6));
  }
  auto elapsed = std::chrono::steady_clock::now() - t0;
  STRCMP_EQUAL("beforeduring", got.c_str());
  CHECK(elapsed >= std::chrono::milliseconds(250));
  CHECK(elapsed < std::chrono::seconds(5));
  CHECK(stream.drained());
}

TEST(AgentStdio, TerminalIsLeftToTheContainerProcess) {
  auto pair = createStdio(true);
  CHECK(pair.ok());
  CHECK(pair->terminal);
  CHECK(!pair->ptyMaster);
  CHECK(!pair->childIn);
}

TEST(AgentStdio, PtyHasInitialSize) {
  auto pty = openPty("/dev/ptmx", 33, 77);
  CHECK(pty.ok());
  struct winsize ws {};
  CHECK_EQUAL(0, ::ioctl(pty->slave.get(), TIOCGWINSZ, &ws));
  CHECK_EQUAL(33, ws.ws_row);
  CHECK_EQUAL(77, ws.ws_col);
  CHECK(resizeTerminal(pty->master.get(), 50, 120).ok());
  CHECK_EQUAL(0, ::ioctl(pty->slave.get(), TIOCGWINSZ, &ws));
  CHECK_EQUAL(50, ws.ws_row);
  CHECK(!openPty("/nonexistent/ptmx", 0, 0).ok());
}
