// Drives the real kata-shim binary against the fake agent: what only a separate process can
// show (signals sent to the shim's pid, its exit status, its command line).
#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "lib/child_process.h"
#include "shim/signals.h"
#include "tests/unit/shim/shim_test_util.h"

// Last: CppUTest redefines operator new for the code that follows.
#include <CppUTest/TestHarness.h>

extern char** environ;

using namespace std::chrono_literals;
using kata::UniqueFd;
using kata::shim::testing::Collector;
using kata::shim::testing::FakeAgentFixture;
using kata::shim::testing::Pipe;

namespace {

/// A kata-shim child process (killed and reaped if the test leaves it behind).
class ShimProcess {
 public:
  ShimProcess(const std::vector<std::string>& args, int in, int out, int err,
              const std::string& logFile) {
    kata::SpawnOptions so;
    so.argv = {KATA_SHIM_BINARY};
    so.argv.insert(so.argv.end(), args.begin(), args.end());
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
    env.push_back("KATA_SHIM_LOG=" + logFile);
    so.env = env;
    so.stdinFd = in;
    so.stdoutFd = out;
    so.stderrFd = err;
    auto child = kata::ChildProcess::spawn(so);
    if (child.ok()) child_ = std::move(*child);
  }
  pid_t pid() const { return child_.pid(); }
  /// Exit code, or 128+signal; -1 when still running after `timeout`.
  int wait(std::chrono::milliseconds timeout = 15s) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      auto r = child_.tryWait();
      if (!r.ok()) return -1;
      if (r->has_value()) return **r;
      std::this_thread::sleep_for(10ms);
    }
    return -1;
  }

 private:
  kata::ChildProcess child_;
};

std::string readFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

TEST_GROUP(ShimBinary) {
  FakeAgentFixture agent;
  Pipe in, out, err;
  std::string logFile;

  void setup() override {
    CHECK_TRUE(agent.start());
    in = Pipe::make();
    out = Pipe::make();
    err = Pipe::make();
    logFile = agent.dir.path() + "/shim.log";
  }
  void teardown() override { agent.server.reset(); }

  std::vector<std::string> args(std::vector<std::string> extra = {}) {
    std::vector<std::string> a = {
        "-agent", "unix://" + agent.socketPath, "-container", "c1", "-exec-id", "c1", "-log",
        "debug"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  bool hasSignal(int sig) {
    const auto& s = agent.state->signals;
    return std::find(s.begin(), s.end(), static_cast<uint32_t>(sig)) != s.end();
  }
  void finishProcess(int status) {
    agent.state->pushStdout("");
    agent.state->pushStderr("");
    agent.state->exitWith(status);
  }
  std::string log() { return "shim log:\n" + readFile(logFile); }
};

TEST(ShimBinary, RelaysStdioAndExitsWithTheProcessStatus) {
  ShimProcess shim(args(), in.r.get(), out.w.get(), err.w.get(), logFile);
  CHECK_TRUE(shim.pid() > 0);
  in.r.reset();
  out.w.reset();
  err.w.reset();
  Collector outText(out.r.get()), errText(err.r.get());
  CHECK_EQUAL(5, ::write(in.w.get(), "input", 5));
  in.w.reset();
  CHECK_TRUE_TEXT(agent.state->waitUntil([&] { return agent.state->stdinClosed; }), log().c_str());
  agent.state->pushStdout("out\n");
  agent.state->pushStderr("err\n");
  finishProcess(3);
  CHECK_EQUAL_TEXT(3, shim.wait(), log().c_str());
  STRCMP_EQUAL("out\n", outText.finish().c_str());
  STRCMP_EQUAL("err\n", errText.finish().c_str());
  STRCMP_EQUAL("input", agent.state->stdinData.c_str());
  // Logs go to $KATA_SHIM_LOG with the container fields, never to the container's stderr.
  std::string text = readFile(logFile);
  STRCMP_CONTAINS("name=kata-shim", text.c_str());
  STRCMP_CONTAINS("source=shim", text.c_str());
  STRCMP_CONTAINS("container=c1", text.c_str());
  STRCMP_CONTAINS("exec-id=c1", text.c_str());
}

TEST(ShimBinary, ForwardsEveryCatchableSignalItReceives) {
  ShimProcess shim(args(), in.r.get(), out.w.get(), err.w.get(), logFile);
  CHECK_TRUE(shim.pid() > 0);
  // Once the output reads arrive, main() has long blocked the signals (it does so first thing).
  CHECK_TRUE(agent.state->waitUntil([&] { return agent.state->readLens.size() >= 2; }));
  for (int sig :
       {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCONT, SIGALRM, SIGRTMIN + 3}) {
    CHECK_EQUAL(0, ::kill(shim.pid(), sig));
    CHECK_TRUE_TEXT(agent.state->waitUntil([&] { return hasSignal(sig); }),
                    (kata::shim::signalName(sig) + " not forwarded; " + log()).c_str());
  }
  // SIGCHLD and SIGWINCH (without a terminal) are not the process's business.
  CHECK_EQUAL(0, ::kill(shim.pid(), SIGCHLD));
  CHECK_EQUAL(0, ::kill(shim.pid(), SIGWINCH));
  CHECK_EQUAL(0, ::kill(shim.pid(), SIGUSR1));
  CHECK_TRUE(agent.state->waitUntil([&] { return agent.state->signals.size() == 10; }));
  std::this_thread::sleep_for(100ms);
  {
    std::lock_guard lock(agent.state->mu);
    CHECK_EQUAL(10u, agent.state->signals.size());
    CHECK_EQUAL(static_cast<uint32_t>(SIGUSR1), agent.state->signals.back());
    CHECK_EQUAL(0u, agent.state->resizes.size());
  }
  finishProcess(42);  // the shim survived SIGTERM/SIGINT/SIGQUIT: it exits with the status
  CHECK_EQUAL_TEXT(42, shim.wait(), log().c_str());
}

TEST(ShimBinary, TerminalModeForwardsWindowSizeOnSigwinch) {
  int m = -1, s = -1;
  winsize ws{};
  ws.ws_row = 24;
  ws.ws_col = 80;
  CHECK_EQUAL(0, ::openpty(&m, &s, nullptr, nullptr, &ws));
  UniqueFd master(m), slave(s);
  ShimProcess shim(args({"-terminal"}), slave.get(), slave.get(), slave.get(), logFile);
  CHECK_TRUE(shim.pid() > 0);
  CHECK_TRUE_TEXT(agent.state->waitUntil([&] { return agent.state->resizes.size() == 1; }),
                  log().c_str());
  ws.ws_row = 61;
  ws.ws_col = 203;
  CHECK_EQUAL(0, ::ioctl(master.get(), TIOCSWINSZ, &ws));
  CHECK_EQUAL(0, ::kill(shim.pid(), SIGWINCH));
  CHECK_TRUE_TEXT(agent.state->waitUntil([&] { return agent.state->resizes.size() == 2; }),
                  log().c_str());
  {
    std::lock_guard lock(agent.state->mu);
    CHECK_TRUE(agent.state->resizes[0] == std::make_pair(24u, 80u));
    CHECK_TRUE(agent.state->resizes[1] == std::make_pair(61u, 203u));
    CHECK_EQUAL(0u, agent.state->signals.size());
  }
  agent.state->pushStdout("");
  agent.state->exitWith(130);
  CHECK_EQUAL_TEXT(130, shim.wait(), log().c_str());
}

TEST(ShimBinary, BadFlagsFailWithAClearMessage) {
  ShimProcess shim({"-agent", "unix:///x", "-container", "c1", "-exec-id", "c1", "-bogus"},
                   in.r.get(), out.w.get(), err.w.get(), logFile);
  out.w.reset();
  err.w.reset();
  Collector errText(err.r.get()), outText(out.r.get());
  CHECK_EQUAL(2, shim.wait());
  STRCMP_CONTAINS("kata-shim: flag provided but not defined: -bogus\n", errText.finish().c_str());
  STRCMP_EQUAL("", outText.finish().c_str());
  std::lock_guard lock(agent.state->mu);
  CHECK_EQUAL(0, agent.state->waitCalls);
}

TEST(ShimBinary, VersionPrintsAndExits) {
  ShimProcess shim({"--version"}, in.r.get(), out.w.get(), err.w.get(), logFile);
  out.w.reset();
  err.w.reset();
  Collector outText(out.r.get()), errText(err.r.get());
  CHECK_EQUAL(0, shim.wait());
  STRCMP_CONTAINS("kata-shim version ", outText.finish().c_str());
  STRCMP_EQUAL("", errText.finish().c_str());
}
