#include "shim/shim.h"

#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "lib/temp_dir.h"
#include "tests/unit/mapped_file_util.h"
#include "tests/unit/shim/shim_test_util.h"

// Last: CppUTest redefines operator new for the code that follows.
#include <CppUTest/TestHarness.h>

using namespace std::chrono_literals;
using kata::UniqueFd;
using kata::shim::Shim;
using kata::shim::ShimConfig;
using kata::shim::testing::Collector;
using kata::shim::testing::FakeAgentFixture;
using kata::shim::testing::Pipe;

namespace {

/// Runs Shim::run() on a thread.
class RunningShim {
 public:
  RunningShim(ShimConfig config, kata::shim::Dialer dialer)
      : shim_(std::move(config), std::move(dialer)), thread_([this] {
          code_ = shim_.run();
          done_ = true;
        }) {}
  ~RunningShim() { join(); }
  Shim& shim() { return shim_; }
  bool done() const { return done_; }
  int join() {
    if (thread_.joinable()) thread_.join();
    return code_;
  }

 private:
  Shim shim_;
  std::atomic<int> code_{-1};
  std::atomic<bool> done_{false};
  std::thread thread_;
};

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7 + i / 4096) & 0xff);
  return s;
}

}  // namespace

TEST_GROUP(ShimRelay) {
  FakeAgentFixture agent;
  Pipe in, out, err;

  void setup() override {
    CHECK_TRUE(agent.start());
    in = Pipe::make();
    out = Pipe::make();
    err = Pipe::make();
  }
  void teardown() override { agent.server.reset(); }

  ShimConfig config() {
    ShimConfig c;
    c.container = "c1";
    c.execId = "c1";
    c.stdinFd = in.r.get();
    c.stdoutFd = out.w.get();
    c.stderrFd = err.w.get();
    c.retryTimeout = 3000ms;
    return c;
  }
  // Ends both output streams and lets the process exit with `status`.
  void finishProcess(int status) {
    agent.state->pushStdout("");
    agent.state->pushStderr("");
    agent.state->exitWith(status);
  }
  void checkIdsWereRight() {
    std::lock_guard lock(agent.state->mu);
    CHECK_EQUAL(0u, agent.state->badIds.size());
  }
  // Waits until the shim has `n` output reads in flight or done (it is connected).
  void waitForReads(size_t n) {
    CHECK_TRUE(agent.state->waitUntil([&] { return agent.state->readLens.size() >= n; }));
  }
  size_t readsSoFar() {
    std::lock_guard lock(agent.state->mu);
    return agent.state->readLens.size();
  }
};

TEST(ShimRelay, RelaysStdoutStderrAndExitCode) {
  Collector outText(out.r.get()), errText(err.r.get());
  agent.state->pushStdout("hello ");
  agent.state->pushStdout("world\n");
  agent.state->pushStderr("oops\n");
  finishProcess(3);
  {
    RunningShim shim(config(), agent.dialer());
    CHECK_EQUAL(3, shim.join());
    STRCMP_EQUAL("", shim.shim().fatalError().c_str());
  }
  out.w.reset();
  err.w.reset();
  STRCMP_EQUAL("hello world\n", outText.finish().c_str());
  STRCMP_EQUAL("oops\n", errText.finish().c_str());
  checkIdsWereRight();
  std::lock_guard lock(agent.state->mu);
  for (uint32_t len : agent.state->readLens) CHECK_EQUAL(1u << 20, len);  // ShimConfig::readSize
}

TEST(ShimRelay, LargeOutputArrivesWholeAndInOrder) {
  Collector outText(out.r.get());
  std::string data = pattern(3 * 1024 * 1024 + 123);
  for (size_t off = 0; off < data.size(); off += 200000)
    agent.state->pushStdout(data.substr(off, 200000));
  finishProcess(0);
  {
    RunningShim shim(config(), agent.dialer());
    CHECK_EQUAL(0, shim.join());
  }
  out.w.reset();
  std::string got = outText.finish();
  CHECK_EQUAL(data.size(), got.size());
  CHECK_TRUE(data == got);
}

TEST(ShimRelay, StdinIsRelayedThenClosedAtEof) {
  std::string input = pattern(150000);  // many WriteStdin calls: the fake takes 1000 at a time
  RunningShim shim(config(), agent.dialer());
  std::thread writer([&] {
    size_t off = 0;
    while (off < input.size()) {
      ssize_t n = ::write(in.w.get(), input.data() + off, input.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    in.w.reset();  // EOF
  });
  writer.join();
  CHECK_TRUE(agent.state->waitUntil([&] { return agent.state->stdinClosed; }));
  {
    std::lock_guard lock(agent.state->mu);
    CHECK_EQUAL(input.size(), agent.state->stdinData.size());
    CHECK_TRUE(input == agent.state->stdinData);
    CHECK_TRUE(agent.state->stdinClosedAfterData);
  }
  finishProcess(0);
  CHECK_EQUAL(0, shim.join());
  checkIdsWereRight();
}

// Upstream's agent forgets a process, and drops its unread output, when it answers WaitProcess:
// the shim must not ask before the output has ended, even when the process exited long ago.
TEST(ShimRelay, ExitWaitsForTheOutputToEnd) {
  Collector outText(out.r.get());
  agent.state->pushStderr("");
  agent.state->exitWith(0);
  RunningShim shim(config(), agent.dialer());
  std::this_thread::sleep_for(300ms);
  CHECK_FALSE(shim.done());  // exited, but stdout is still open
  agent.state->pushStdout("late output\n");
  agent.state->pushStdout("");
  CHECK_EQUAL(0, shim.join());
  out.w.reset();
  STRCMP_EQUAL("late output\n", outText.finish().c_str());
  std::lock_guard lock(agent.state->mu);
  CHECK_EQUAL(0u, agent.state->droppedByWait);
}

TEST(ShimRelay, WaitProcessIsAskedOnlyOnceTheOutputHasEnded) {
  Collector outText(out.r.get());
  agent.state->exitWith(7);
  agent.state->pushStdout("still coming\n");  // neither stream has ended yet
  RunningShim shim(config(), agent.dialer());
  waitForReads(3);
  std::this_thread::sleep_for(300ms);
  {
    std::lock_guard lock(agent.state->mu);
    CHECK_EQUAL(0, agent.state->waitCalls);
  }
  CHECK_FALSE(shim.done());
  agent.state->pushStdout("");
  std::this_thread::sleep_for(100ms);
  {
    std::lock_guard lock(agent.state->mu);
    CHECK_EQUAL(0, agent.state->waitCalls);  // stderr is still open
  }
  agent.state->pushStderr("");
  CHECK_EQUAL(7, shim.join());
  out.w.reset();
  STRCMP_EQUAL("still coming\n", outText.finish().c_str());
  std::lock_guard lock(agent.state->mu);
  CHECK_EQUAL(1, agent.state->waitCalls);
}

// Every form of "end of stream" an agent sends: ours and upstream's (UNKNOWN "EOF"), upstream's
// built with an older gRPC-Go (OUT_OF_RANGE "EOF"), our older agents (an empty OK reply).
TEST(ShimRelay, EveryAgentsEndOfStreamEndsTheOutput) {
  using kata::shim::testing::EofStyle;
  for (EofStyle style : {EofStyle::UnknownEof, EofStyle::OutOfRangeEof, EofStyle::EmptyOk}) {
    FakeAgentFixture other;
    CHECK_TRUE(other.start());
    other.state->eofStyle = style;
    Pipe o = Pipe::make(), e = Pipe::make();
    Collector outText(o.r.get()), errText(e.r.get());
    other.state->pushStdout("out\n");
    other.state->pushStdout("");
    other.state->pushStderr("err\n");
    other.state->pushStderr("");
    other.state->exitWith(4);
    ShimConfig c = config();
    c.stdoutFd = o.w.get();
    c.stderrFd = e.w.get();
    {
      RunningShim shim(std::move(c), other.dialer());
      CHECK_EQUAL(4, shim.join());
      STRCMP_EQUAL("", shim.shim().fatalError().c_str());
    }
    o.w.reset();
    e.w.reset();
    STRCMP_EQUAL("out\n", outText.finish().c_str());
    STRCMP_EQUAL("err\n", errText.finish().c_str());
  }
}

// A process the agent no longer knows (someone else collected its status): its output has
// ended, and without a status the shim exits 255 saying why.
TEST(ShimRelay, ProcessTheAgentForgotEndsTheShimWith255) {
  agent.state->exitWith(0);
  agent.state->forgotten = true;
  RunningShim shim(config(), agent.dialer());
  CHECK_EQUAL(255, shim.join());
  STRCMP_CONTAINS("not found", shim.shim().fatalError().c_str());
}

TEST(ShimRelay, KilledProcessStatusPassesThrough) {
  finishProcess(128 + SIGKILL);
  RunningShim shim(config(), agent.dialer());
  CHECK_EQUAL(137, shim.join());
}

TEST(ShimRelay, ProxyExitCodeFalseExitsZero) {
  finishProcess(42);
  ShimConfig c = config();
  c.proxyExitCode = false;
  RunningShim shim(std::move(c), agent.dialer());
  CHECK_EQUAL(0, shim.join());
}

TEST(ShimRelay, OutOfRangeStatusFromTheAgentIsNotTrusted) {
  finishProcess(256);
  RunningShim shim(config(), agent.dialer());
  CHECK_EQUAL(kata::shim::kExitAgentLost, shim.join());
}

TEST(ShimRelay, WaitProcessErrorIsFatal) {
  agent.state->waitFailure = grpc::Status(grpc::StatusCode::NOT_FOUND, "no such process");
  agent.state->pushStdout("");
  agent.state->pushStderr("");
  RunningShim shim(config(), agent.dialer());
  CHECK_EQUAL(255, shim.join());
  STRCMP_CONTAINS("no such process", shim.shim().fatalError().c_str());
}

TEST(ShimRelay, TransientReadErrorsAreRetried) {
  Collector outText(out.r.get());
  agent.state->readErrorsToReturn = 3;
  agent.state->pushStdout("after start\n");
  RunningShim shim(config(), agent.dialer());
  CHECK_TRUE(agent.state->waitUntil([&] { return agent.state->stdoutQueue.empty(); }));
  finishProcess(0);
  CHECK_EQUAL(0, shim.join());
  out.w.reset();
  STRCMP_EQUAL("after start\n", outText.finish().c_str());
}

TEST(ShimRelay, VanishedStdoutReaderDoesNotLoseTheExitStatus) {
  out.r.reset();  // writes now fail with EPIPE
  agent.state->pushStdout("nobody reads this");
  agent.state->pushStdout("nor this");
  finishProcess(9);
  RunningShim shim(config(), agent.dialer());
  CHECK_EQUAL(9, shim.join());
  std::lock_guard lock(agent.state->mu);
  CHECK_TRUE(agent.state->stdoutQueue.empty());  // drained all the same
}

TEST(ShimRelay, SignalsAreForwardedWithSignalProcess) {
  RunningShim shim(config(), agent.dialer());
  CHECK_TRUE(shim.shim().handleSignal(SIGTERM).ok());
  CHECK_TRUE(shim.shim().handleSignal(SIGRTMIN + 1).ok());
  CHECK_TRUE(shim.shim().handleSignal(SIGWINCH).ok());  // not a terminal: dropped
  {
    std::lock_guard lock(agent.state->mu);
    CHECK_EQUAL(2u, agent.state->signals.size());
    CHECK_EQUAL(static_cast<uint32_t>(SIGTERM), agent.state->signals[0]);
    CHECK_EQUAL(static_cast<uint32_t>(SIGRTMIN + 1), agent.state->signals[1]);
    CHECK_EQUAL(0u, agent.state->resizes.size());
  }
  finishProcess(0);
  CHECK_EQUAL(0, shim.join());
  checkIdsWereRight();
}

TEST(ShimRelay, TerminalModeIsRawForwardsSizeAndReadsOnlyStdout) {
  int m = -1, s = -1;
  winsize ws{};
  ws.ws_row = 24;
  ws.ws_col = 80;
  CHECK_EQUAL(0, ::openpty(&m, &s, nullptr, nullptr, &ws));
  UniqueFd master(m), slave(s);
  ShimConfig c = config();
  c.terminal = true;
  c.stdinFd = slave.get();
  c.stdoutFd = slave.get();
  c.stderrFd = -1;
  agent.state->pushStdout("tty out\r\n");
  {
    RunningShim shim(std::move(c), agent.dialer());
    CHECK_TRUE(agent.state->waitUntil([&] { return agent.state->resizes.size() == 1; }));
    termios t{};
    CHECK_EQUAL(0, ::tcgetattr(slave.get(), &t));
    CHECK_EQUAL(0u, t.c_lflag & (ICANON | ECHO));

    ws.ws_row = 50;
    ws.ws_col = 132;
    CHECK_EQUAL(0, ::ioctl(master.get(), TIOCSWINSZ, &ws));
    CHECK_TRUE(shim.shim().handleSignal(SIGWINCH).ok());
    CHECK_TRUE(agent.state->waitUntil([&] { return agent.state->resizes.size() == 2; }));

    agent.state->pushStdout("");
    agent.state->exitWith(0);  // stderr never reaches EOF: it must not be waited for
    CHECK_EQUAL(0, shim.join());
    CHECK_TRUE(shim.done());
  }
  {
    std::lock_guard lock(agent.state->mu);
    CHECK_TRUE(agent.state->resizes[0] == std::make_pair(24u, 80u));
    CHECK_TRUE(agent.state->resizes[1] == std::make_pair(50u, 132u));
  }
  termios t{};
  CHECK_EQUAL(0, ::tcgetattr(slave.get(), &t));
  CHECK_TRUE((t.c_lflag & ICANON) != 0);  // restored
  char buf[64] = {};
  pollfd p{master.get(), POLLIN, 0};
  CHECK_EQUAL(1, ::poll(&p, 1, 2000));
  ssize_t n = ::read(master.get(), buf, sizeof buf - 1);
  CHECK_TRUE(n > 0);
  STRCMP_EQUAL("tty out\r\n", buf);  // raw: no extra \r added on the host side
}

TEST(ShimRelay, UnreachableAgentGivesUpWith255) {
  agent.server.reset();
  ::unlink(agent.socketPath.c_str());
  ShimConfig c = config();
  c.retryTimeout = 400ms;
  auto start = std::chrono::steady_clock::now();
  RunningShim shim(std::move(c), agent.dialer());
  CHECK_EQUAL(255, shim.join());
  CHECK_TRUE(std::chrono::steady_clock::now() - start < 5s);
  STRCMP_CONTAINS("agent unreachable", shim.shim().fatalError().c_str());
  STRCMP_CONTAINS("agent.sock", shim.shim().fatalError().c_str());
}

TEST(ShimRelay, ReconnectsWhenTheAgentComesBack) {
  Collector outText(out.r.get());
  RunningShim shim(config(), agent.dialer());
  waitForReads(2);  // stdout and stderr reads in flight
  CHECK_EQUAL(1, agent.dials.load());
  size_t before = readsSoFar();
  agent.server->stop();  // the proxy dies: every pending call fails
  std::this_thread::sleep_for(300ms);
  CHECK_TRUE(agent.restartServer());
  waitForReads(before + 2);  // both reads issued again
  agent.state->pushStdout("still here\n");
  finishProcess(5);
  CHECK_EQUAL(5, shim.join());
  CHECK_TRUE(agent.dials.load() >= 2);
  out.w.reset();
  STRCMP_EQUAL("still here\n", outText.finish().c_str());
}

TEST(ShimRelay, AgentLostForGoodGivesUpWith255) {
  ShimConfig c = config();
  c.retryTimeout = 500ms;
  RunningShim shim(std::move(c), agent.dialer());
  waitForReads(2);
  agent.server->stop();
  CHECK_EQUAL(255, shim.join());
  STRCMP_CONTAINS("agent unreachable", shim.shim().fatalError().c_str());
}

TEST(ShimRelay, AWatchedProcessExitingEndsTheShimAtOnce) {
  pid_t child = ::fork();
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, child, 0)));
  CHECK_TRUE(pidfd);
  ShimConfig c = config();
  c.retryTimeout = 60000ms;  // the agent stays reachable: only the watch can end the shim
  c.watched.push_back({pidfd.get(), "QEMU"});
  RunningShim shim(std::move(c), agent.dialer());
  waitForReads(2);
  auto start = std::chrono::steady_clock::now();
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  CHECK_EQUAL(255, shim.join());
  CHECK_TRUE(std::chrono::steady_clock::now() - start < 5s);
  STRCMP_EQUAL("QEMU exited: the container's VM is gone", shim.shim().fatalError().c_str());
}

TEST(ShimRelay, SurvivesAProxyRestart) {
  std::string proxyPath = agent.dir.path() + "/proxy.sock";
  auto first = std::make_unique<kata::shim::testing::ByteProxy>(proxyPath, agent.socketPath);
  CHECK_TRUE(first->ok());
  auto dialProxy = [&]() -> kata::Result<UniqueFd> {
    return kata::shim::dialAgent(*kata::shim::parseAgentUrl("unix://" + proxyPath));
  };
  RunningShim shim(config(), dialProxy);
  waitForReads(2);
  agent.state->pushStdout("before\n");
  char before[8] = {};
  pollfd p{out.r.get(), POLLIN, 0};
  CHECK_EQUAL(1, ::poll(&p, 1, 10000));
  CHECK_EQUAL(7, ::read(out.r.get(), before, 7));  // delivered before the proxy dies
  STRCMP_EQUAL("before\n", before);
  first.reset();  // every connection through the proxy is cut at the transport level
  std::this_thread::sleep_for(300ms);
  size_t readsBefore = readsSoFar();
  kata::shim::testing::ByteProxy second(proxyPath, agent.socketPath);
  CHECK_TRUE(second.ok());
  waitForReads(readsBefore + 2);
  CHECK_EQUAL(1, second.accepted());  // one connection carries every call
  agent.state->pushStdout("after\n");
  finishProcess(6);
  Collector outText(out.r.get());
  CHECK_EQUAL(6, shim.join());
  out.w.reset();
  STRCMP_EQUAL("after\n", outText.finish().c_str());
}

TEST(ShimRelay, NoStdinAtAllClosesTheProcessStdin) {
  ShimConfig c = config();
  c.stdinFd = -1;
  RunningShim shim(std::move(c), agent.dialer());
  CHECK_TRUE(agent.state->waitUntil([&] { return agent.state->stdinClosed; }));
  finishProcess(0);
  CHECK_EQUAL(0, shim.join());
}

TEST(ShimRelay, StartupPagesAreHandedBackWhileTheProcessRuns) {
  auto dir = kata::TempDir::create("kata-shim-pages-");
  CHECK_TRUE(dir.ok());
  std::string file = kata::testing::makeMappedFile(*dir);
  const volatile char* mapped = kata::testing::mapAndTouch(file);
  CHECK(kata::testing::residentKb(getpid(), file) >= 1000);
  ShimConfig c = config();
  c.startupPagesFile = file;
  c.startupPagesAfter = 50ms;
  {
    RunningShim shim(c, agent.dialer());
    bool released = false;
    for (int i = 0; i < 300 && !released; i++) {
      std::this_thread::sleep_for(10ms);
      released = kata::testing::residentKb(getpid(), file) < 100;
    }
    CHECK_TRUE(released);
    CHECK_FALSE(shim.done());
    finishProcess(0);
    CHECK_EQUAL(0, shim.join());
  }
  munmap(const_cast<char*>(mapped), kata::testing::kFileBytes);
}

TEST(ShimRelay, AShortLivedProcessKeepsItsPages) {
  auto dir = kata::TempDir::create("kata-shim-pages-");
  CHECK_TRUE(dir.ok());
  std::string file = kata::testing::makeMappedFile(*dir);
  const volatile char* mapped = kata::testing::mapAndTouch(file);
  ShimConfig c = config();
  c.startupPagesFile = file;
  c.startupPagesAfter = 10000ms;
  finishProcess(0);
  {
    RunningShim shim(c, agent.dialer());
    CHECK_EQUAL(0, shim.join());
  }
  CHECK(kata::testing::residentKb(getpid(), file) >= 1000);
  munmap(const_cast<char*>(mapped), kata::testing::kFileBytes);
}

TEST(ShimRelay, AnOomKillIsRelayedBeforeTheShimExits) {
  std::atomic<int> relayed{0};
  ShimConfig c = config();
  c.relayOom = [&relayed] {
    std::this_thread::sleep_for(100ms);  // the relay takes a while: the exit waits for it
    relayed++;
    return kata::okStatus();
  };
  {
    std::lock_guard lock(agent.state->mu);
    agent.state->oomEvents.push_back("other");  // another container's: not relayed
  }
  RunningShim shim(c, agent.dialer());
  finishProcess(128 + SIGKILL);
  std::this_thread::sleep_for(50ms);  // the event comes just after the exit
  {
    std::lock_guard lock(agent.state->mu);
    agent.state->oomEvents.push_back("c1");
    agent.state->cv.notify_all();
  }
  CHECK_EQUAL(128 + SIGKILL, shim.join());
  CHECK_EQUAL(1, relayed.load());
}

TEST(ShimRelay, WithoutAnOomTheExitIsNotHeldBack) {
  std::atomic<int> relayed{0};
  ShimConfig c = config();
  c.relayOom = [&relayed] {
    relayed++;
    return kata::okStatus();
  };
  finishProcess(3);
  auto start = std::chrono::steady_clock::now();
  RunningShim shim(c, agent.dialer());
  CHECK_EQUAL(3, shim.join());
  CHECK_TRUE(std::chrono::steady_clock::now() - start < 250ms);
  CHECK_EQUAL(0, relayed.load());
}
