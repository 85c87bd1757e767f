// The real kata-shim binary against a lying agent: output for ever, replies above its limit,
// errors for ever, garbage instead of HTTP/2, connections cut mid-call, impossible exit
// statuses, huge error text. The shim's memory (VmRSS, VmHWM) and descriptors are read from
// /proc while it runs; it must end (or keep relaying) within bounds, never crash.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <memory>
#include <string>
#include <thread>

#include "liar_harness.h"
#include "lying_agent.h"
#include "protocols/agent.pb.h"

// Last: CppUTest redefines operator new for the code that follows.
#include <CppUTest/TestHarness.h>

using namespace std::chrono_literals;
using kata::liar::Answer;
using kata::liar::fieldHeader;
using kata::liar::LyingAgent;
using kata::liar::Run;
using kata::liar::Wire;

namespace kata::liar {
extern std::string gSuiteDir;  // liar_main.cc
}
using kata::liar::gSuiteDir;

namespace {

// The shim's retry budget (ShimConfig::retryTimeout): an agent that keeps failing is given up
// after it.
constexpr double kRetrySeconds = 20;
// The shim's resident memory while it relays, in KiB: its code, gRPC, and a reply or two of
// at most 2 MiB (kMaxAgentReplyBytes) in flight. Measured: about 20 MiB.
constexpr long kShimMaxRssKiB = 64 << 10;
constexpr int kExitAgentLost = 255;

std::unique_ptr<LyingAgent> startAgent(const std::string& name) {
  auto a = LyingAgent::start(gSuiteDir + "/shim-" + name + ".sock");
  if (!a.ok()) FAIL(a.error().str().c_str());
  return std::move(a).value();
}

// What a watcher saw of the shim while it ran.
struct Watch {
  std::atomic<long> maxRssKiB{0}, maxHwmKiB{0};
  std::atomic<int> minFds{INT_MAX}, maxFds{0};
  std::atomic<long> cpuAtEnd{0};
  void sample(pid_t pid) {
    long rss = kata::liar::statusKiB(pid, "VmRSS");
    long hwm = kata::liar::statusKiB(pid, "VmHWM");
    int fds = kata::liar::fdCount(pid);
    long cpu = kata::liar::cpuMs(pid);
    if (rss < 0 || fds < 0) return;
    maxRssKiB = std::max(maxRssKiB.load(), rss);
    maxHwmKiB = std::max(maxHwmKiB.load(), hwm);
    minFds = std::min(minFds.load(), fds);
    maxFds = std::max(maxFds.load(), fds);
    if (cpu >= 0) cpuAtEnd = cpu;
  }
  std::string str() const {
    return "rss<=" + std::to_string(maxRssKiB) + " KiB, hwm " + std::to_string(maxHwmKiB) +
           " KiB, fds " + std::to_string(minFds) + ".." + std::to_string(maxFds) + ", cpu " +
           std::to_string(cpuAtEnd) + " ms";
  }
};

/// Samples `pid` every 100 ms after a start-up second until it is gone.
std::function<void(pid_t)> watcher(Watch& w) {
  return [&w](pid_t pid) {
    std::this_thread::sleep_for(1s);  // gRPC's start-up descriptors and threads settle
    while (kata::liar::statusKiB(pid, "VmRSS") >= 0) {
      w.sample(pid);
      std::this_thread::sleep_for(100ms);
    }
  };
}

Run runShim(LyingAgent& agent, std::chrono::seconds limit,
            const std::function<void(pid_t)>& watch = nullptr) {
  return kata::liar::runProgram(
      {KATA_SHIM_BIN, "-agent", agent.url(), "-container", "liar-c", "-exec-id", "liar-c"}, {},
      limit, watch);
}

std::string describe(const Run& r, const Watch* w = nullptr) {
  return "exit " + std::to_string(r.code) + " after " + std::to_string(r.seconds) + " s; stdout " +
         std::to_string(r.out.size()) + " bytes; stderr: " + r.err.substr(0, 400) +
         (w ? "; " + w->str() : "");
}

void checkBounded(const Run& r, const Watch& w) {
  const std::string what = describe(r, &w);
  CHECK_TEXT(!r.killed, ("outlived its limit: " + what).c_str());
  CHECK_TEXT(w.maxRssKiB > 0, ("never sampled: " + what).c_str());
  if (kata::liar::kMeasureMemory)
    CHECK_TEXT(w.maxHwmKiB < kShimMaxRssKiB, ("memory: " + what).c_str());
  // Each calling thread may hold its own connection while it redials (4 descriptors with its
  // guard): a leak would grow with every redial instead, by the hundred.
  CHECK_TEXT(w.maxFds - w.minFds <= 24, ("descriptors grew: " + what).c_str());
  CHECK_TEXT(kata::liar::lineCount(r.err) <= 1, ("stderr: " + what).c_str());
  CHECK_TEXT(r.err.size() <= 2048, ("stderr too long: " + what).c_str());
  CHECK_TEXT(!kata::liar::hasTerminalControls(r.err), ("control bytes: " + what).c_str());
}

Answer eof() { return Answer::raw(""); }  // an empty ReadStreamResponse

/// WaitProcess answered with `status` once `ready` holds (or the agent stops).
Answer statusWhen(LyingAgent& agent, std::function<bool()> ready, int status) {
  return Answer::deferred([&agent, ready, status] {
    while (!ready() && !agent.stopping()) std::this_thread::sleep_for(20ms);
    ::grpc::WaitProcessResponse resp;
    resp.set_status(status);
    return Answer::reply(resp);
  });
}

}  // namespace

TEST_GROUP(ShimLiar){};

// stdout that never ends, 1 MiB per reply as fast as the shim asks: it relays all of it with
// flat memory and descriptors, and ends normally once the agent ends the stream.
TEST(ShimLiar, EndlessOutputIsRelayedInBoundedMemory) {
  auto agent = startAgent("endless");
  std::atomic<bool> end{false};
  std::atomic<long> sent{0};
  agent->on("ReadStdout", [&](const std::string&) {
    if (end) return eof();
    sent += 1 << 20;
    return Answer::raw(fieldHeader(1, 1 << 20), 1 << 20);
  });
  agent->on("ReadStderr", [](const std::string&) { return eof(); });
  agent->on("WaitProcess", [&](const std::string&) {
    return statusWhen(
        *agent, [&] { return end.load(); }, 3);
  });
  Watch w;
  Watch late;  // from 4 s on: the relay's steady state
  long early = 0;
  Run r = runShim(*agent, 60s, [&](pid_t pid) {
    std::thread sampler(watcher(w), pid);
    std::this_thread::sleep_for(4s);
    early = kata::liar::statusKiB(pid, "VmRSS");
    for (int i = 0; i < 60; i++) {
      late.sample(pid);
      std::this_thread::sleep_for(100ms);
    }
    end = true;
    sampler.join();
  });
  const std::string what = describe(r, &w) + "; at 4 s " + std::to_string(early) + " KiB, then " +
                           late.str() + "; " + std::to_string(sent >> 20) + " MiB sent";
  checkBounded(r, w);
  CHECK_TEXT(r.code == 3, what.c_str());
  CHECK_TEXT(sent >= (50l << 20), ("relayed too little: " + what).c_str());
  // No growth with the amount relayed: the last 6 s add no more than a few replies.
  if (kata::liar::kMeasureMemory)
    CHECK_TEXT(early > 0 && late.maxRssKiB - early <= 8 << 10, ("memory grows: " + what).c_str());
  // A sample may fall inside a call: its socket to the agent and the reply guard's pair are
  // open then (3), and the shim opens its own binary once, at 5 s, to page out its start-up
  // code (1). A leak would grow with the 60 samples' calls.
  CHECK_TEXT(late.maxFds - late.minFds <= 4, ("descriptors changed: " + what).c_str());
}

// Replies above the shim's 2 MiB limit, for ever: the guard cuts each connection at the reply's
// prefix, so the shim never holds one; it redials with back-off and, the agent never giving a
// usable answer, gives up after its retry budget naming the reason (or relays the status if a
// WaitProcess reply slips through before a cut).
TEST(ShimLiar, OversizedOutputRepliesAreRefused) {
  auto agent = startAgent("oversized");
  agent->on("ReadStdout",
            [](const std::string&) { return Answer::raw(fieldHeader(1, 3 << 20), 3 << 20); });
  agent->on("ReadStderr",
            [](const std::string&) { return Answer::raw(fieldHeader(1, 64u << 20), 64u << 20); });
  auto start = std::chrono::steady_clock::now();
  agent->on("WaitProcess", [&](const std::string&) {
    return statusWhen(
        *agent, [start] { return std::chrono::steady_clock::now() - start > 3s; }, 0);
  });
  Watch w;
  Run r = runShim(*agent, 90s, watcher(w));
  const std::string what =
      describe(r, &w) + "; " + std::to_string(agent->calls("ReadStdout")) + " ReadStdout calls";
  checkBounded(r, w);
  CHECK_TEXT(r.out.empty(), what.c_str());
  CHECK_TEXT(r.code == 0 || (r.code == kExitAgentLost &&
                             r.err.find("above the limit of 2097152") != std::string::npos),
             what.c_str());
  CHECK_TEXT(r.seconds < kRetrySeconds + 15, what.c_str());
  // Backing off: at most a few calls a second (50 ms doubling to 1 s).
  CHECK_TEXT(agent->calls("ReadStdout") < 3 * int(r.seconds) + 10, ("spins: " + what).c_str());
  CHECK_TEXT(w.cpuAtEnd < 5000, ("CPU: " + what).c_str());
}

// Empty replies are the end of a stream (older agents' form): read once, not for ever.
TEST(ShimLiar, EmptyRepliesEndTheStreams) {
  auto agent = startAgent("empty");
  agent->on("WaitProcess", [](const std::string&) {
    ::grpc::WaitProcessResponse resp;
    resp.set_status(7);
    return Answer::reply(resp);
  });
  Watch w;
  Run r = runShim(*agent, 30s, watcher(w));
  CHECK_TEXT(r.code == 7, describe(r, &w).c_str());
  CHECK_EQUAL(1, agent->calls("ReadStdout"));
  CHECK_EQUAL(1, agent->calls("ReadStderr"));
}

// Exit statuses no process has: the shim exits with its agent-lost status, not a truncation
// that could pass for success.
TEST(ShimLiar, ImpossibleExitStatusIsRefused) {
  for (int status : {-1, 256, 65536, INT_MIN, INT_MAX}) {
    auto agent = startAgent("status");
    agent->on("WaitProcess", [status](const std::string&) {
      ::grpc::WaitProcessResponse resp;
      resp.set_status(status);
      return Answer::reply(resp);
    });
    Run r = runShim(*agent, 30s);
    CHECK_TEXT(r.code == kExitAgentLost, (std::to_string(status) + ": " + describe(r)).c_str());
  }
}

// WaitProcess refused with text made to fool a terminal: one line on the container's stderr,
// bounded, escaped.
TEST(ShimLiar, GuestErrorTextIsBoundedAndEscaped) {
  const std::string nasty = "no\n\x1b]0;owned\x07\x1b[2J\r\xc2\x9b\x9b\x7f\ttext ";
  for (size_t size : {size_t(200), size_t(6000), size_t(1) << 20}) {
    auto agent = startAgent("error-text");
    std::string message;
    while (message.size() < size) message += nasty;
    agent->on("WaitProcess", [message](const std::string&) {
      return Answer::fail(::grpc::StatusCode::INTERNAL, message);
    });
    Watch w;
    Run r = runShim(*agent, 30s, watcher(w));
    const std::string what = std::to_string(size) + ": " + describe(r, &w);
    CHECK_TEXT(r.code == kExitAgentLost, what.c_str());
    CHECK_EQUAL(1, kata::liar::lineCount(r.err));
    CHECK_TEXT(r.err.size() <= 2048, what.c_str());
    CHECK_TEXT(!kata::liar::hasTerminalControls(r.err), what.c_str());
  }
}

// An agent that is never usable: every call UNAVAILABLE (with escapes in its text), every
// connection cut mid-call, or garbage instead of HTTP/2. The shim redials with back-off, its
// descriptors stay flat, and it gives up after its retry budget with one escaped line.
TEST(ShimLiar, UnusableAgentIsGivenUp) {
  auto unavailable = startAgent("unavailable");
  for (const char* m : {"ReadStdout", "ReadStderr", "WaitProcess", "CloseStdin"})
    unavailable->on(m, [](const std::string&) {
      return Answer::fail(::grpc::StatusCode::UNAVAILABLE, "going away\x1b[2J\n\x1b]0;owned\x07");
    });
  auto cut = startAgent("cut");
  for (const char* m : {"ReadStdout", "ReadStderr", "WaitProcess", "CloseStdin"})
    cut->on(m, [](const std::string&) { return Answer::cut(); });
  auto garbage = startAgent("garbage");
  garbage->setWire(Wire::Garbage, "HTTP/1.1 400 Bad Request\r\n\x1b]0;owned\x07\r\n\r\n");

  LyingAgent* agents[] = {unavailable.get(), cut.get(), garbage.get()};
  Watch watches[3];
  Run runs[3];
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; i++)
    threads.emplace_back([&, i] { runs[i] = runShim(*agents[i], 90s, watcher(watches[i])); });
  for (auto& t : threads) t.join();
  for (int i = 0; i < 3; i++) {
    const std::string what = std::to_string(i) + ": " + describe(runs[i], &watches[i]) + "; " +
                             std::to_string(agents[i]->connections()) + " connections";
    checkBounded(runs[i], watches[i]);
    CHECK_TEXT(runs[i].code == kExitAgentLost, what.c_str());
    CHECK_TEXT(runs[i].seconds >= kRetrySeconds - 1, ("gave up early: " + what).c_str());
    CHECK_TEXT(runs[i].seconds < kRetrySeconds + 15, ("gave up late: " + what).c_str());
    CHECK_TEXT(runs[i].err.find("kata-shim: ") == 0, what.c_str());
    // Back-off: tens of dials over the budget, not thousands.
    CHECK_TEXT(agents[i]->connections() < 200, ("redials: " + what).c_str());
  }
}
