// The real kata-runtime binary against a lying agent. Each case is a sandbox with one container
// in the state `create` leaves (sandbox.json, state.json, index entry, under this suite's
// KATA_VC_RUN_DIR and --root), whose QEMU, proxy and shim are stand-in processes and whose
// agent_url is a LyingAgent of its own. Cases with a deadline to wait for run side by side.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "liar_harness.h"
#include "lib/child_process.h"
#include "lib/fs_util.h"
#include "lying_agent.h"
#include "protocols/agent.pb.h"
#include "runtime/virtcontainers/agent_client.h"
#include "runtime/virtcontainers/shared_dir.h"
#include "runtime/virtcontainers/store.h"

// Last: CppUTest redefines operator new for the code that follows.
#include <CppUTest/TestHarness.h>

using namespace std::chrono_literals;
using kata::ChildProcess;
using kata::liar::Answer;
using kata::liar::fieldHeader;
using kata::liar::LyingAgent;
using kata::liar::Run;
using kata::liar::Wire;
namespace vc = kata::vc;

namespace kata::liar {
extern std::string gSuiteDir;  // liar_main.cc
}
using kata::liar::gSuiteDir;

namespace {

constexpr size_t kRuntimeLimit = vc::kMaxAgentReplyBytes;
// Peak memory of one kata-runtime command (VmHWM), in KiB. Measured: 18 MiB for a small reply,
// 53 MiB for an accepted `ps` table of 16 MiB (which escaping may make up to four times
// larger), 19 MiB for a refused reply of 256 MiB, which cost 280 MiB (and a gzip bomb of
// 256 MiB, 297 MiB) before the replies were guarded.
constexpr long kRuntimeMaxRssKiB = 160 << 10;
// The longest an error line may be: the runtime keeps 512 bytes of the guest's message, which
// escaping may quadruple, plus the call and the context.
constexpr size_t kMaxErrorLine = 4 * 512 + 256;

ChildProcess standIn() {
  kata::SpawnOptions o;
  o.argv = {"/bin/sleep", "3600"};
  auto c = ChildProcess::spawn(o);
  if (!c.ok()) FAIL(c.error().str().c_str());
  return std::move(c).value();
}

vc::ProcessRef refOf(const ChildProcess& c) {
  auto r = vc::ProcessRef::of(c.pid());
  if (!r.ok()) FAIL(r.error().str().c_str());
  return *r;
}

std::string rootDir() { return gSuiteDir + "/root"; }

// One sandbox, one container (same id), a liar as its agent and stand-ins for its processes.
class FakeSandbox {
 public:
  explicit FakeSandbox(const std::string& name, const std::string& status = "running")
      : id_("liar-" + name), qemu_(standIn()), proxy_(standIn()), shim_(standIn()) {
    auto agent = LyingAgent::start(gSuiteDir + "/" + id_ + ".sock");
    if (!agent.ok()) FAIL(agent.error().str().c_str());
    agent_ = std::move(agent).value();
    vc::SandboxState s;
    s.id = id_;
    s.qemu = refOf(qemu_);
    s.proxy = refOf(proxy_);
    s.agentUrl = agent_->url();
    s.accelerator = "tcg";
    s.containers = {id_};
    s.created = "2026-01-01T00:00:00Z";
    CHECK_TEXT(kata::mkdirAll(vc::StorePaths::sandboxDir(id_), 0700).ok(), "sandbox dir");
    CHECK_TEXT(vc::saveSandbox(s).ok(), "save sandbox");
    vc::ContainerState c;
    c.id = id_;
    c.sandboxId = id_;
    c.bundle = gSuiteDir + "/bundle";
    c.status = status;
    c.shim = refOf(shim_);
    c.created = s.created;
    CHECK_TEXT(vc::saveContainer(c).ok(), "save container");
    CHECK_TEXT(vc::indexAdd(rootDir(), id_, id_, c.bundle).ok(), "index");
  }
  ~FakeSandbox() {
    // What a failed test left: the liar first (hanging calls end), then the state.
    agent_.reset();
    (void)kata::removeAll(vc::StorePaths::sandboxDir(id_));
    (void)kata::removeAll(vc::StorePaths::vmDir(id_));
    ::unlink(vc::StorePaths::lockFile(id_).c_str());
    (void)vc::indexRemove(rootDir(), id_);
  }

  const std::string& id() const { return id_; }
  LyingAgent& agent() { return *agent_; }

  /// kata-runtime with this suite's root and configuration; `args` after them.
  Run runtime(const std::vector<std::string>& args, std::chrono::seconds limit = 150s) {
    std::vector<std::string> argv = {KATA_RUNTIME_BIN, "--root", rootDir(), "--kata-config",
                                     gSuiteDir + "/configuration.toml"};
    argv.insert(argv.end(), args.begin(), args.end());
    return kata::liar::runProgram(argv, {}, limit);
  }

  /// The sandbox as it was: state, index entry and stand-ins (a failed query changes nothing).
  bool stateKept() const {
    struct stat st;
    return ::lstat(vc::StorePaths::sandboxDir(id_).c_str(), &st) == 0 &&
           ::lstat((rootDir() + "/" + id_ + ".json").c_str(), &st) == 0 && standInsAlive();
  }
  bool standInsAlive() const {
    for (const auto* c : {&qemu_, &proxy_, &shim_})
      if (!kata::processAlive(c->pid())) return false;
    return true;
  }
  /// Nothing of the sandbox is left: state and VM dirs, lock file, index entry, processes.
  std::string leftovers() const {
    std::string left;
    for (const auto& p : {vc::StorePaths::sandboxDir(id_), vc::StorePaths::vmDir(id_),
                          vc::StorePaths::lockFile(id_), rootDir() + "/" + id_ + ".json"}) {
      struct stat st;
      if (::lstat(p.c_str(), &st) == 0) left += " " + p;
    }
    for (const auto* c : {&qemu_, &proxy_, &shim_})
      if (kata::processAlive(c->pid())) left += " pid " + std::to_string(c->pid());
    return left;
  }

 private:
  std::string id_;
  ChildProcess qemu_, proxy_, shim_;
  std::unique_ptr<LyingAgent> agent_;
};

/// Mount points of this suite (its scratch directory) whose path contains `part`.
std::string mountsWith(const std::string& part) {
  auto text = kata::readFile("/proc/self/mountinfo", 16 << 20);
  if (!text.ok()) return "mountinfo unreadable";
  std::string found;
  size_t start = 0;
  while (start < text->size()) {
    size_t end = text->find('\n', start);
    if (end == std::string::npos) end = text->size();
    std::string line = text->substr(start, end - start);
    if (line.find(gSuiteDir) != std::string::npos && line.find(part) != std::string::npos)
      found += line + "; ";
    start = end + 1;
  }
  return found;
}

std::string describe(const Run& r) {
  return "exit " + std::to_string(r.code) + " after " + std::to_string(r.seconds) + " s, " +
         std::to_string(r.maxRssKiB) + " KiB peak; stderr (" + std::to_string(r.err.size()) +
         " bytes): " + r.err.substr(0, 600) + "; stdout " + std::to_string(r.out.size()) + " bytes";
}

/// The one-line error kata-runtime must print: names `call`, bounded, no terminal controls.
void checkErrorLine(const Run& r, const std::string& call) {
  const std::string what = describe(r);
  CHECK_TEXT(!r.killed, ("still running at its limit: " + what).c_str());
  CHECK_TEXT(r.code == 1, what.c_str());
  CHECK_TEXT(r.err.rfind("kata-runtime: ", 0) == 0, what.c_str());
  CHECK_TEXT(kata::liar::lineCount(r.err) == 1, ("not one line: " + what).c_str());
  CHECK_TEXT(r.err.size() <= kMaxErrorLine, ("too long: " + what).c_str());
  CHECK_TEXT(!kata::liar::hasTerminalControls(r.err), ("control bytes: " + what).c_str());
  CHECK_TEXT(r.err.find("agent " + call) != std::string::npos, ("call not named: " + what).c_str());
  if (kata::liar::kMeasureMemory)
    CHECK_TEXT(r.maxRssKiB > 0 && r.maxRssKiB < kRuntimeMaxRssKiB, ("memory: " + what).c_str());
}

/// A ListProcesses reply whose process_list has `size` bytes of 'x'.
Answer psReplyOf(uint64_t size) { return Answer::raw(fieldHeader(1, size), size); }

// Runs each job on a thread of its own; returns their runs in order.
std::vector<Run> runTogether(const std::vector<std::function<Run()>>& jobs) {
  std::vector<Run> runs(jobs.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < jobs.size(); i++)
    threads.emplace_back([&runs, &jobs, i] { runs[i] = jobs[i](); });
  for (auto& t : threads) t.join();
  return runs;
}

}  // namespace

TEST_GROUP(RuntimeLiar){};

// The harness itself: an honest answer goes through.
TEST(RuntimeLiar, HonestReplyIsPrinted) {
  FakeSandbox s("honest");
  s.agent().on("ListProcesses", [](const std::string&) {
    ::grpc::ListProcessesResponse resp;
    resp.set_process_list("PID CMD\n1 init\n");
    return Answer::reply(resp);
  });
  Run r = s.runtime({"ps", s.id()}, 30s);
  CHECK_TEXT(r.code == 0,
             (describe(r) + "; calls " + std::to_string(s.agent().calls("ListProcesses")) +
              ", connections " + std::to_string(s.agent().connections()))
                 .c_str());
  STRCMP_EQUAL("PID CMD\n1 init\n", r.out.c_str());
  CHECK_EQUAL(1, s.agent().calls("ListProcesses"));
}

// A reply one byte above the 16 MiB limit, and one far above it (256 MiB): refused with an
// error naming the call, quickly, without the runtime holding the whole reply.
TEST(RuntimeLiar, OversizedRepliesAreRefused) {
  FakeSandbox just("ps-just-above"), far("ps-far-above");
  just.agent().on("ListProcesses", [](const std::string&) { return psReplyOf(kRuntimeLimit + 1); });
  far.agent().on("ListProcesses", [](const std::string&) { return psReplyOf(256ull << 20); });
  for (FakeSandbox* s : {&just, &far}) {
    Run r = s->runtime({"ps", s->id()});
    checkErrorLine(r, "ListProcesses");
    CHECK_TEXT(r.err.find("above the limit of 16777216") != std::string::npos, describe(r).c_str());
    CHECK_TEXT(r.out.empty(), describe(r).c_str());
    CHECK_TEXT(r.seconds < 30, describe(r).c_str());
    CHECK(s->stateKept());
  }
}

// A gzip bomb: 256 MiB of reply in about 256 KiB on the wire. Refused before it is inflated.
TEST(RuntimeLiar, CompressedRepliesAreRefused) {
  FakeSandbox s("gzip");
  s.agent().on("ListProcesses", [](const std::string&) {
    Answer a = psReplyOf(256ull << 20);
    a.gzip = true;
    return a;
  });
  Run r = s.runtime({"ps", s.id()});
  checkErrorLine(r, "ListProcesses");
  CHECK_TEXT(r.err.find("compressed") != std::string::npos, describe(r).c_str());
  CHECK(s.stateKept());
}

// The largest reply that is accepted: a `ps` table just under the limit, full of terminal
// escapes. It is printed with every control byte escaped, in bounded memory.
TEST(RuntimeLiar, PsTableIsEscaped) {
  FakeSandbox s("ps-escapes");
  std::string evil =
      "PID USER\n1 root \x1b]0;owned\x07\x1b[2J\xc2\x9b"
      "31m\x9b\x7f\r\n";
  s.agent().on("ListProcesses", [&evil](const std::string&) {
    std::string table;
    while (table.size() + evil.size() < kRuntimeLimit - 64) table += evil;
    ::grpc::ListProcessesResponse resp;
    resp.set_process_list(table);
    return Answer::reply(resp);
  });
  Run r = s.runtime({"ps", s.id()});
  CHECK_TEXT(r.code == 0, describe(r).c_str());
  CHECK_TEXT(r.out.size() > kRuntimeLimit / 2, describe(r).c_str());
  CHECK_TEXT(!kata::liar::hasTerminalControls(r.out), "ps printed the guest's control bytes");
  CHECK_TEXT(r.out.find("\\x1b]0;owned") != std::string::npos, r.out.substr(0, 200).c_str());
  if (kata::liar::kMeasureMemory)
    CHECK_TEXT(r.maxRssKiB > 0 && r.maxRssKiB < kRuntimeMaxRssKiB, describe(r).c_str());
}

// `ps --format json` gives host pids (the shims'), as runc's: whatever pid list the agent
// would give never reaches the terminal.
TEST(RuntimeLiar, PsJsonGivesHostPidsNotTheGuests) {
  FakeSandbox s("ps-json");
  s.agent().on("ListProcesses", [](const std::string&) {
    ::grpc::ListProcessesResponse resp;
    resp.set_process_list("[\"1\\u001b[2J\"]\x1b[2J");
    return Answer::reply(resp);
  });
  Run r = s.runtime({"ps", "--format", "json", s.id()});
  CHECK_TEXT(r.code == 0, describe(r).c_str());
  CHECK_TEXT(r.out.find_first_not_of("[],0123456789\n") == std::string::npos, describe(r).c_str());
  CHECK_TEXT(r.out.size() > 3 && r.out.front() == '[' && r.out.back() == '\n', describe(r).c_str());
}

// Error messages from the guest: huge, multi-line, full of terminal escapes. One bounded,
// escaped line names the call; the --log file gets one line too.
TEST(RuntimeLiar, GuestErrorTextIsBoundedAndEscaped) {
  const std::string nasty = "no\n\x1b]0;owned\x07\x1b[2J\r\xc2\x9b\x9b\x7f\ttext ";
  for (size_t size : {size_t(200), size_t(4000), size_t(1) << 20}) {
    FakeSandbox s("error-text");
    std::string message;
    while (message.size() < size) message += nasty;
    s.agent().on("ListProcesses", [message](const std::string&) {
      return Answer::fail(::grpc::StatusCode::INTERNAL, message);
    });
    const std::string log = gSuiteDir + "/error-text.log";
    ::unlink(log.c_str());
    Run r = s.runtime({"--log", log, "--log-format", "json", "ps", s.id()});
    checkErrorLine(r, "ListProcesses");
    if (size < 1000) {
      // Small enough for gRPC to deliver: the guest's words are shown, escaped.
      CHECK_TEXT(r.err.find("no\\x0a\\x1b]0;owned") != std::string::npos, describe(r).c_str());
    }
    auto logText = kata::readFile(log, 1 << 20);
    CHECK_TEXT(logText.ok(), "log file");
    CHECK_EQUAL(1, kata::liar::lineCount(*logText));
    CHECK_TEXT(logText->size() <= 2 * kMaxErrorLine + 256, logText->c_str());
    CHECK(s.stateKept());
  }
}

// Replies that are not the message the call expects: bytes that do not parse, a field of the
// wrong wire type, a string that is not UTF-8.
TEST(RuntimeLiar, MalformedProtobufIsAnError) {
  const std::vector<std::string> replies = {
      std::string("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11),  // a varint too long
      fieldHeader(1, 1000) + "short",                                   // truncated field
      std::string("\x0b", 1),                                           // start-group, no end
  };
  for (const auto& bytes : replies) {
    FakeSandbox s("not-protobuf");
    s.agent().on("ListProcesses", [bytes](const std::string&) { return Answer::raw(bytes); });
    Run r = s.runtime({"ps", s.id()});
    checkErrorLine(r, "ListProcesses");
    CHECK_TEXT(r.err.find("not a valid grpc.ListProcessesResponse") != std::string::npos,
               describe(r).c_str());
    CHECK_TEXT(r.seconds < 30, describe(r).c_str());
  }
  // StatsContainer: a network interface name that is not UTF-8 (proto3 strings must be).
  FakeSandbox s("not-utf8");
  s.agent().on("StatsContainer", [](const std::string&) {
    std::string name = "eth\xff\xfe\x1b[2J";
    std::string net = fieldHeader(1, name.size()) + name;
    return Answer::raw(fieldHeader(2, net.size()) + net);
  });
  Run r = s.runtime({"events", "--stats", s.id()});
  checkErrorLine(r, "StatsContainer");
  CHECK_TEXT(r.err.find("not a valid grpc.StatsContainerResponse") != std::string::npos,
             describe(r).c_str());
}

// The agent's socket speaks something other than HTTP/2: an HTTP/1 answer with terminal
// escapes, then bytes for ever. A bounded error, and the runtime stops reading.
TEST(RuntimeLiar, NotHttp2IsAnError) {
  FakeSandbox once("not-http2"), forever("not-http2-forever");
  const std::string garbage = "HTTP/1.1 200 OK\r\n\x1b]0;owned\x07\r\n\r\n";
  once.agent().setWire(Wire::Garbage, garbage);
  forever.agent().setWire(Wire::GarbageForever, std::string(65536, '\x1b'));
  std::vector<Run> runs = runTogether({[&] {
                                         return once.runtime({"ps", once.id()});
                                       },
                                       [&] {
                                         return forever.runtime({"ps", forever.id()});
                                       }});
  for (const Run& r : runs) checkErrorLine(r, "ListProcesses");
  std::string what = std::to_string(forever.agent().garbageBytesWritten()) + " bytes taken";
  CHECK_TEXT(forever.agent().garbageBytesWritten() < (64u << 20), what.c_str());
}

// The connection is cut while the call is in flight: an error at once, not at the deadline.
TEST(RuntimeLiar, ConnectionCutMidCallIsAnError) {
  FakeSandbox s("cut");
  s.agent().on("ListProcesses", [](const std::string&) { return Answer::cut(); });
  Run r = s.runtime({"ps", s.id()});
  checkErrorLine(r, "ListProcesses");
  CHECK_TEXT(r.err.find("connection to the agent lost") != std::string::npos, describe(r).c_str());
  CHECK_TEXT(r.seconds < 30, describe(r).c_str());
}

// Stats no cgroup can have: maps and lists with a hundred thousand entries. Refused with a
// one-line error, in bounded memory (converted to JSON they took 540 MB and printed 25 MB).
TEST(RuntimeLiar, AbsurdStatsAreRefused) {
  FakeSandbox s("stats");
  s.agent().on("StatsContainer", [](const std::string&) {
    ::grpc::StatsContainerResponse resp;
    auto* mem = resp.mutable_cgroup_stats()->mutable_memory_stats();
    for (int i = 0; i < 100000; i++) (*mem->mutable_stats())["k" + std::to_string(i)] = UINT64_MAX;
    for (int i = 0; i < 100000; i++) resp.add_network_stats()->set_name("eth" + std::to_string(i));
    auto* cpu = resp.mutable_cgroup_stats()->mutable_cpu_stats()->mutable_cpu_usage();
    for (int i = 0; i < 200000; i++) cpu->add_percpu_usage(UINT64_MAX);
    return Answer::reply(resp);
  });
  Run r = s.runtime({"events", "--stats", s.id()});
  checkErrorLine(r, "StatsContainer");
  CHECK_TEXT(r.err.find("(at most 4096)") != std::string::npos, describe(r).c_str());
  CHECK_TEXT(r.out.empty(), describe(r).c_str());
}

// Plausible stats with names made for a terminal and counters at their maximum: printed as one
// JSON line without a raw control byte.
TEST(RuntimeLiar, StatsNamesAreEscaped) {
  FakeSandbox s("stats-names");
  const std::string nasty = "\x1b]0;owned\x07\x1b[2J\x7f\xc2\x9b\n";
  s.agent().on("StatsContainer", [&nasty](const std::string&) {
    ::grpc::StatsContainerResponse resp;
    auto* cg = resp.mutable_cgroup_stats();
    (*cg->mutable_memory_stats()->mutable_stats())["k" + nasty] = UINT64_MAX;
    (*cg->mutable_hugetlb_stats())[nasty].set_usage(UINT64_MAX);
    auto* e = cg->mutable_blkio_stats()->add_io_serviced_recursive();
    e->set_op(nasty);
    e->set_value(UINT64_MAX);
    auto* n = resp.add_network_stats();
    n->set_name("eth" + nasty);
    n->set_rx_bytes(UINT64_MAX);
    return Answer::reply(resp);
  });
  Run r = s.runtime({"events", "--stats", s.id()});
  CHECK_TEXT(r.code == 0, describe(r).c_str());
  CHECK_EQUAL(1, kata::liar::lineCount(r.out));
  CHECK_TEXT(!kata::liar::hasTerminalControls(r.out), r.out.c_str());
  CHECK_TEXT(r.out.find("18446744073709551615") != std::string::npos, r.out.c_str());
}

// Every verb that calls the agent, against an agent that never answers: each ends with an
// error naming its call at its deadline (kill 10 s, the others 60 s), and `delete --force`
// removes everything anyway. The cases run side by side.
TEST(RuntimeLiar, HangingAgentMeetsDeadlines) {
  struct Case {
    std::string name, status, call;
    std::vector<std::string> args;  // the container id follows
    double deadline;                // seconds
    bool removes = false;           // the sandbox is gone afterwards
  };
  const std::vector<Case> cases = {
      {"hang-ps", "running", "ListProcesses", {"ps"}, 60},
      {"silent-ps", "running", "ListProcesses", {"ps"}, 60},  // no HTTP/2 from the agent at all
      {"hang-exec", "running", "ExecProcess", {"exec", "-d"}, 60},
      {"hang-kill", "running", "SignalProcess", {"kill"}, 10},
      {"hang-kill-all", "running", "SignalProcess", {"kill", "--all"}, 10},
      {"hang-pause", "running", "PauseContainer", {"pause"}, 60},
      {"hang-resume", "paused", "ResumeContainer", {"resume"}, 60},
      {"hang-update", "running", "UpdateContainer", {"update", "--pids-limit", "10"}, 60},
      {"hang-events", "running", "StatsContainer", {"events", "--stats"}, 60},
      {"hang-start", "created", "StartContainer", {"start"}, 60},
      // RemoveContainer (5 s with --force, 30 s without), DestroySandbox (5 s), QEMU (2 s).
      {"hang-delete-force", "running", "", {"delete", "--force"}, 12, true},
      {"hang-delete", "created", "RemoveContainer", {"delete"}, 37, true},
  };
  std::vector<std::unique_ptr<FakeSandbox>> sandboxes;
  std::vector<std::function<Run()>> jobs;
  for (const auto& c : cases) {
    sandboxes.push_back(std::make_unique<FakeSandbox>(c.name, c.status));
    FakeSandbox* s = sandboxes.back().get();
    if (c.name.starts_with("silent")) s->agent().setWire(Wire::Silent);
    for (const char* m : {"ListProcesses", "ExecProcess", "SignalProcess", "PauseContainer",
                          "ResumeContainer", "UpdateContainer", "StatsContainer", "StartContainer",
                          "RemoveContainer", "DestroySandbox"})
      s->agent().on(m, [](const std::string&) { return Answer::hang(); });
    std::vector<std::string> args = c.args;
    args.push_back(s->id());
    if (c.name == "hang-exec") args.insert(args.end(), {"/bin/true"});
    jobs.push_back([s, args] { return s->runtime(args); });
  }
  std::vector<Run> runs = runTogether(jobs);
  for (size_t i = 0; i < cases.size(); i++) {
    const Case& c = cases[i];
    const Run& r = runs[i];
    const std::string what = c.name + ": " + describe(r);
    CHECK_TEXT(!r.killed, what.c_str());
    CHECK_TEXT(r.seconds < c.deadline + 15, ("past its deadline: " + what).c_str());
    if (c.call.empty()) {
      CHECK_TEXT(r.code == 0, what.c_str());  // --force: the agent's silence is no error
    } else {
      checkErrorLine(r, c.call);
      CHECK_TEXT(r.seconds >= c.deadline - 1, ("gave up early: " + what).c_str());
    }
    if (c.removes) {
      CHECK_EQUAL("", sandboxes[i]->leftovers());
    } else {
      CHECK_TEXT(sandboxes[i]->stateKept(), what.c_str());
    }
  }
}

// A pod member joins a sandbox whose agent lies about CreateContainer (cuts the connection,
// answers with a reply above the limit): create fails with one line naming the call and rolls
// back everything it made (the rootfs mount in the share, state dir, index entry); the
// sandbox stays as it was.
TEST(RuntimeLiar, FailedCreateLeavesNothing) {
  FakeSandbox s("pod");
  CHECK_TEXT(vc::shared::setup(s.id()).ok(), "shared directory");
  const std::string bundle = gSuiteDir + "/member-bundle";
  CHECK(kata::mkdirAll(bundle + "/rootfs", 0755).ok());
  const std::string spec = R"({"ociVersion": "1.0.2",
    "process": {"args": ["/bin/sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
    "root": {"path": "rootfs"},
    "annotations": {"io.kubernetes.cri.container-type": "container",
                    "io.kubernetes.cri.sandbox-id": ")" +
                           s.id() + R"("},
    "linux": {"namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                            {"type": "mount"}]}})";
  CHECK(kata::writeFileAtomic(bundle + "/config.json", spec, 0600).ok());
  const std::vector<std::pair<std::string, Answer>> lies = {
      {"connection to the agent lost", Answer::cut()},
      {"above the limit", Answer::raw(fieldHeader(1, 64 << 20), 64 << 20)}};
  for (const auto& [expected, lie] : lies) {
    s.agent().on("CreateContainer", [lie](const std::string&) { return lie; });
    Run r = s.runtime({"create", "--bundle", bundle, "liar-member"});
    checkErrorLine(r, "CreateContainer");
    CHECK_TEXT(r.err.find(expected) != std::string::npos, describe(r).c_str());
    CHECK_EQUAL("", mountsWith("liar-member"));
    struct stat st;
    CHECK(::lstat((vc::StorePaths::sandboxDir(s.id()) + "/liar-member").c_str(), &st) != 0);
    CHECK(::lstat((rootDir() + "/liar-member.json").c_str(), &st) != 0);
    CHECK(s.stateKept());
    auto sandbox = vc::loadSandbox(s.id());
    CHECK(sandbox.ok() && sandbox->containers == std::vector<std::string>{s.id()});
  }
  CHECK_EQUAL(2, s.agent().calls("CreateContainer"));
  CHECK(vc::shared::teardown(s.id()).ok());
}

// Waiting for a new VM's agent (Health.Check) against one that hangs, speaks no HTTP/2, answers
// above the limit or with a huge error: the wait ends at its deadline with a bounded error.
TEST(RuntimeLiar, WaitForAgentIsBounded) {
  std::vector<std::function<void(LyingAgent&)>> lies = {
      [](LyingAgent& a) { a.on("Check", [](const std::string&) { return Answer::hang(); }); },
      [](LyingAgent& a) { a.setWire(Wire::GarbageForever, std::string(4096, '\x1b')); },
      [](LyingAgent& a) {
        a.on("Check",
             [](const std::string&) { return Answer::raw(fieldHeader(1, 64 << 20), 64 << 20); });
      },
      [](LyingAgent& a) {
        a.on("Check", [](const std::string&) {
          return Answer::fail(::grpc::StatusCode::UNKNOWN, std::string(6000, 'e'));
        });
      },
  };
  for (size_t i = 0; i < lies.size(); i++) {
    auto agent = LyingAgent::start(gSuiteDir + "/wait.sock");
    CHECK(agent.ok());
    lies[i](**agent);
    auto client = vc::AgentClient::create((*agent)->url());
    CHECK(client.ok());
    auto start = std::chrono::steady_clock::now();
    kata::Status st = client->waitReady(3000);
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const std::string what = std::to_string(i) + ": " + std::to_string(seconds) +
                             " s: " + (st.ok() ? "ok" : st.error().str());
    CHECK_TEXT(!st.ok(), what.c_str());
    CHECK_TEXT(seconds < 6, what.c_str());
    CHECK_TEXT(st.error().str().rfind("agent did not answer within 3 s", 0) == 0, what.c_str());
    CHECK_TEXT(st.error().str().size() < 1024, what.c_str());
  }
}
