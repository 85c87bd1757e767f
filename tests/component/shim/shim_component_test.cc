// kata-shim component tests: the real kata-agent on the host (root, unix-socket mode, busybox
// rootfs) and the real kata-shim binary, wired as the runtime wires them: the shim starts before
// StartContainer and stands in for the container process (stdio, signals, tty, exit status).
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "agent_harness.h"
#include "lib/child_process.h"
#include "lib/unique_fd.h"
#include "tests/unit/shim/pipe_util.h"

// Last: CppUTest redefines operator new for the code that follows.
#include <CppUTest/TestHarness.h>

using kata::ChildProcess;
using kata::UniqueFd;
using kata::agenttest::AgentHarness;
using kata::shim::testing::Collector;
using kata::shim::testing::Pipe;
using namespace std::chrono_literals;

namespace {

std::string codeText(const ::grpc::Status& s) {
  return std::to_string(static_cast<int>(s.error_code())) + " " + s.error_message();
}

/// Reads from `fd` until `needle` appears or `timeout` passes; returns everything read.
std::string readUntil(int fd, const std::string& needle, std::chrono::milliseconds timeout) {
  std::string out;
  auto end = std::chrono::steady_clock::now() + timeout;
  while (out.find(needle) == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

/// Proportional set size of `pid` in KiB (0 once it is gone).
long pssKiB(pid_t pid) {
  FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/smaps_rollup").c_str(), "r");
  if (f == nullptr) return 0;
  char line[256];
  long kib = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::sscanf(line, "Pss: %ld kB", &kib) == 1) break;
  }
  std::fclose(f);
  return kib;
}

/// CPU time (user + system) `pid` has used, in ms (0 once it is gone).
long cpuMs(pid_t pid) {
  FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (f == nullptr) return 0;
  char buf[1024] = {};
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
  const char* p = std::strrchr(buf, ')');
  if (n == 0 || p == nullptr) return 0;
  unsigned long utime = 0, stime = 0;
  if (std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) !=
      2) {
    return 0;
  }
  return static_cast<long>((utime + stime) * 1000 /
                           static_cast<unsigned long>(sysconf(_SC_CLK_TCK)));
}

}  // namespace

TEST_GROUP(Shim) {
  AgentHarness h;
  std::string shimLog;
  void setup() override {
    h.start();
    shimLog = h.base() + "/shim.log";
  }
  void teardown() override { h.stop(); }

  std::string agentUrl() { return "unix://" + h.base() + "/agent.sock"; }

  /// Starts kata-shim for (cid, execId) with the given stdio, as `kata-runtime create` does.
  ChildProcess startShim(const std::string& cid, const std::string& execId, int in, int out,
                         int err, bool terminal = false) {
    kata::SpawnOptions so;
    so.argv = {KATA_SHIM_BIN, "-agent", agentUrl(), "-container", cid,
               "-exec-id",    execId,   "-log",     "debug"};
    if (terminal) so.argv.push_back("-terminal");
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
    env.push_back("KATA_SHIM_LOG=" + shimLog);
    so.env = env;
    so.stdinFd = in;
    so.stdoutFd = out;
    so.stderrFd = err;
    auto child = ChildProcess::spawn(so);
    CHECK_TEXT(child.ok(), child.ok() ? "" : child.error().str().c_str());
    return std::move(child).value();
  }
  /// A shim on fresh pipes: the test keeps stdin's write end and collects stdout and stderr.
  struct PipedShim {
    ChildProcess process;
    UniqueFd stdinWriter;
    std::unique_ptr<Collector> out, err;
  };
  PipedShim startPipedShim(const std::string& cid, const std::string& execId) {
    Pipe in = Pipe::make(), out = Pipe::make(), err = Pipe::make();
    PipedShim p;
    p.process = startShim(cid, execId, in.r.get(), out.w.get(), err.w.get());
    p.stdinWriter = std::move(in.w);
    // Collectors own nothing: keep the read ends alive in the test group.
    outReader = std::move(out.r);
    errReader = std::move(err.r);
    p.out = std::make_unique<Collector>(outReader.get());
    p.err = std::make_unique<Collector>(errReader.get());
    return p;
  }
  UniqueFd outReader, errReader;

  void create(const std::string& cid, const std::vector<std::string>& args, bool terminal = false) {
    h.makeRootfs(cid);
    auto s = h.create(cid, h.makeSpec(cid, args, terminal));
    CHECK_TEXT(s.ok(), (codeText(s) + "\n" + h.agentLog()).c_str());
  }
  void start(const std::string& cid) {
    auto s = h.start(cid);
    CHECK_TEXT(s.ok(), (codeText(s) + "\n" + h.agentLog()).c_str());
  }
  std::string logs() { return "agent log:\n" + h.agentLog() + "\nshim log: " + shimLog; }
  /// Waits for the shim with a bound, so a hung shim fails the test instead of the suite.
  int waitShim(ChildProcess & shim, std::chrono::seconds timeout = 60s) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      auto r = shim.tryWait();
      if (!r.ok()) return -1000;
      if (r->has_value()) return **r;
      std::this_thread::sleep_for(10ms);
    }
    return -1;
  }
};

TEST(Shim, StartedBeforeTheContainerItRelaysOutputAndExitStatus) {
  std::string cid = "s-exit";
  create(cid, {"sh", "-c", "echo hello; echo oops >&2; exit 3"});
  PipedShim shim = startPipedShim(cid, cid);
  std::this_thread::sleep_for(300ms);  // the shim is reading before the process exists
  auto early = shim.process.tryWait();
  CHECK_TRUE(early.ok() && !early->has_value());
  start(cid);
  CHECK_EQUAL_TEXT(3, waitShim(shim.process), logs().c_str());
  STRCMP_EQUAL("hello\n", shim.out->finish().c_str());
  STRCMP_EQUAL("oops\n", shim.err->finish().c_str());
  CHECK(h.remove(cid).ok());
}

TEST(Shim, StdinIsRelayedAndItsEndClosesTheProcessStdin) {
  std::string cid = "s-stdin";
  create(cid, {"sh", "-c", "wc -c; echo done"});
  PipedShim shim = startPipedShim(cid, cid);
  start(cid);
  std::string input(300000, 'x');
  for (size_t off = 0; off < input.size();) {
    ssize_t n = ::write(shim.stdinWriter.get(), input.data() + off, input.size() - off);
    CHECK(n > 0);
    off += static_cast<size_t>(n);
  }
  shim.stdinWriter.reset();  // EOF: the shim must CloseStdin, or wc never ends
  CHECK_EQUAL_TEXT(0, waitShim(shim.process), logs().c_str());
  STRCMP_EQUAL("300000\ndone\n", shim.out->finish().c_str());
  CHECK(h.remove(cid).ok());
}

TEST(Shim, LargeOutputIsDeliveredWhole) {
  std::string cid = "s-big";
  constexpr size_t kBytes = 64u << 20;
  create(cid, {"head", "-c", std::to_string(kBytes), "/dev/zero"});
  PipedShim shim = startPipedShim(cid, cid);
  auto t0 = std::chrono::steady_clock::now();
  start(cid);
  long maxPss = 0, cpu = 0;
  std::atomic<bool> sampling{true};
  std::thread sampler([&] {
    while (sampling) {
      maxPss = std::max(maxPss, pssKiB(shim.process.pid()));
      cpu = std::max(cpu, cpuMs(shim.process.pid()));
      std::this_thread::sleep_for(20ms);
    }
  });
  int code = waitShim(shim.process);
  sampling = false;
  sampler.join();
  CHECK_EQUAL_TEXT(0, code, logs().c_str());
  std::string out = shim.out->finish();
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  CHECK_EQUAL(kBytes, out.size());
  CHECK_TRUE(out.find_first_not_of('\0') == std::string::npos);
  // A measurement for the log, not an assertion: timing belongs to `make bench`.
  fprintf(stderr, " [64 MiB through kata-shim in %lld ms, shim CPU %ld ms, PSS peak %ld KiB] ",
          static_cast<long long>(ms), cpu, maxPss);
  CHECK(h.remove(cid).ok());
}

TEST(Shim, SignalsSentToTheShimReachTheProcess) {
  std::string cid = "s-sig";
  // The init (pid 1 in its namespace) only sees signals it handles: trap them.
  create(cid, {"sh", "-c",
               "trap 'echo got USR1' USR1; trap 'echo got HUP' HUP; trap 'echo got TERM; exit 7' "
               "TERM; echo ready; while true; do sleep 0.05; done"});
  Pipe out = Pipe::make(), err = Pipe::make();
  ChildProcess shim = startShim(cid, cid, -1, out.w.get(), err.w.get());
  out.w.reset();
  err.w.reset();
  start(cid);
  std::string text = readUntil(out.r.get(), "ready\n", 20s);
  CHECK_TEXT(text.find("ready\n") != std::string::npos, logs().c_str());
  CHECK(shim.signal(SIGUSR1).ok());
  text += readUntil(out.r.get(), "got USR1\n", 20s);
  CHECK(shim.signal(SIGHUP).ok());
  text += readUntil(out.r.get(), "got HUP\n", 20s);
  CHECK(shim.signal(SIGTERM).ok());
  CHECK_EQUAL_TEXT(7, waitShim(shim), logs().c_str());
  text += readUntil(out.r.get(), "got TERM\n", 5s);
  STRCMP_EQUAL("ready\ngot USR1\ngot HUP\ngot TERM\n", text.c_str());
  CHECK(h.remove(cid).ok());
}

// A background child keeping the exec's output open does not keep the shim (the process as
// its caller sees it) alive: the agent ends the output a grace period after the exit.
TEST(Shim, ExecWhoseBackgroundChildHoldsTheOutputEndsAfterTheGrace) {
  std::string cid = "s-grace";
  create(cid, {"sleep", "100"});
  start(cid);
  auto s = h.exec(cid, "bg", {"sh", "-c", "sleep 60 & echo bg-started; exit 4"});
  CHECK_TEXT(s.ok(), codeText(s).c_str());
  PipedShim shim = startPipedShim(cid, "bg");
  auto t0 = std::chrono::steady_clock::now();
  CHECK_EQUAL_TEXT(4, waitShim(shim.process, 30s), logs().c_str());
  CHECK_TRUE(std::chrono::steady_clock::now() - t0 < 20s);
  STRCMP_EQUAL("bg-started\n", shim.out->finish().c_str());
  CHECK(h.remove(cid).ok());
}

TEST(Shim, ExecProcessKilledBySignalExitsWith128PlusSignal) {
  std::string cid = "s-exec";
  create(cid, {"sh", "-c", "while true; do sleep 0.05; done"});
  start(cid);
  auto s = h.exec(cid, "e1", {"sh", "-c", "echo exec-ready; exec sleep 1000"});
  CHECK_TEXT(s.ok(), codeText(s).c_str());
  Pipe out = Pipe::make(), err = Pipe::make();
  ChildProcess shim = startShim(cid, "e1", -1, out.w.get(), err.w.get());
  out.w.reset();
  err.w.reset();
  std::string text = readUntil(out.r.get(), "exec-ready\n", 20s);
  CHECK_TEXT(text == "exec-ready\n", text.c_str());
  CHECK(shim.signal(SIGINT).ok());  // not pid 1: the default action kills it
  CHECK_EQUAL_TEXT(128 + SIGINT, waitShim(shim), logs().c_str());
  CHECK(h.signal(cid, "", SIGKILL).ok());
  CHECK_EQUAL(128 + SIGKILL, h.wait(cid, ""));
  CHECK(h.remove(cid).ok());
}

TEST(Shim, TerminalModeRelaysThePtyAndWindowSize) {
  std::string cid = "s-tty";
  create(cid, {"sh", "-c", "stty size; read x; stty size; echo got:$x; exit 4"}, true);
  int m = -1, sl = -1;
  winsize ws{};
  ws.ws_row = 33;
  ws.ws_col = 101;
  CHECK_EQUAL(0, ::openpty(&m, &sl, nullptr, nullptr, &ws));
  UniqueFd master(m), slave(sl);
  ChildProcess shim = startShim(cid, cid, slave.get(), slave.get(), slave.get(), true);
  std::this_thread::sleep_for(300ms);  // the shim sends the size it found before the start
  start(cid);
  std::string text = readUntil(master.get(), "33 101", 20s);
  CHECK_TEXT(text.find("33 101") != std::string::npos, (text + "\n" + logs()).c_str());
  ws.ws_row = 40;
  ws.ws_col = 120;
  CHECK_EQUAL(0, ::ioctl(master.get(), TIOCSWINSZ, &ws));
  CHECK(shim.signal(SIGWINCH).ok());
  std::this_thread::sleep_for(500ms);
  CHECK_EQUAL(3, ::write(master.get(), "hi\r", 3));  // raw host side: the guest pty maps \r
  text += readUntil(master.get(), "got:hi", 20s);
  CHECK_TEXT(text.find("40 120") != std::string::npos, (text + "\n" + logs()).c_str());
  CHECK_TEXT(text.find("got:hi") != std::string::npos, (text + "\n" + logs()).c_str());
  CHECK_EQUAL_TEXT(4, waitShim(shim), logs().c_str());
  CHECK(h.remove(cid).ok());
}
