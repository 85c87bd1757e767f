// Wire compatibility with upstream hashicorp/yamux (Debian's golang-github-hashicorp-yamux-dev),
// driven through peer/main.go (the yamux-peer binary):
//  * ProxyVsGoAgent: the real kata-proxy binary (yamux client) against the Go library as the
//    guest agent's yamux server behind a chardev-like unix socket.
//  * ServeMuxVsGoProxy: our server side (yamux::serveMux, exactly what kata-agent runs on its
//    virtio-serial port) against the Go library as upstream kata-proxy's yamux client.
// Every byte is checked against a pattern generator both sides share, in both directions.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "lib/child_process.h"
#include "lib/unique_fd.h"
#include "lib/yamux_bridge.h"
#include "tests/component/proxy/proxy_harness.h"

// CppUTest comes last: its leak-checking macros redefine operator new.
#include <CppUTest/TestHarness.h>

using namespace kata;
using namespace kata::testing;

namespace {

constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kFnvOffset = 14695981039346656037ull;  // FNV-1a 64, as Go's hash/fnv
constexpr uint64_t kFnvPrime = 1099511628211ull;

void sleepMs(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

uint64_t fnvUpdate(uint64_t h, const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * kFnvPrime;
  return h;
}

uint64_t patternFnv(uint64_t n, uint32_t seed) {
  uint64_t h = kFnvOffset;
  for (uint64_t i = 0; i < n; i++) h = (h ^ patternByte(i, seed)) * kFnvPrime;
  return h;
}

std::string hex16(uint64_t v) {
  char buf[17];
  snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// A stuck peer fails the test instead of hanging it.
void setIoTimeouts(int fd, int seconds) {
  timeval tv{seconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/// Reads until EOF; false on an error or timeout.
bool readToEof(int fd, std::string& out) {
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) return true;
    if (n < 0) return false;
    out.append(buf, static_cast<size_t>(n));
  }
}

bool writePattern(int fd, uint64_t total, uint32_t seed) {
  std::vector<uint8_t> buf(64 * 1024);
  for (uint64_t off = 0; off < total;) {
    size_t n = std::min<uint64_t>(buf.size(), total - off);
    for (size_t i = 0; i < n; i++) buf[i] = patternByte(off + i, seed);
    if (!writeAll(fd, buf.data(), n)) return false;
    off += n;
  }
  return true;
}

/// Reads to EOF checking every byte against the pattern; returns the byte count or an error.
std::string readPatternToEof(int fd, uint64_t want, uint32_t seed) {
  std::vector<uint8_t> buf(64 * 1024);
  uint64_t got = 0;
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n == 0) break;
    if (n < 0) return "read failed after " + std::to_string(got) + " bytes: " + strerror(errno);
    for (ssize_t i = 0; i < n; i++) {
      if (buf[i] != patternByte(got + i, seed)) {
        return "byte " + std::to_string(got + i) + " differs";
      }
    }
    got += static_cast<uint64_t>(n);
  }
  if (got != want) return "got " + std::to_string(got) + " bytes, want " + std::to_string(want);
  return "";
}

// ---- clients of the Go agent's stream commands (through proxy.sock) ------------------------
// Each returns "" on success or what went wrong.

/// "echo": n bytes up while the echo comes down, then our FIN; the echo must end with EOF.
std::string echoClient(const std::string& sock, uint64_t n, uint32_t seed) {
  UniqueFd fd = connectWithRetry(sock, 5000);
  if (!fd) return "connect failed";
  setIoTimeouts(fd.get(), 15);
  if (!writeAll(fd.get(), "echo\n", 5)) return "write command failed";
  std::atomic<bool> wrote{false};
  std::thread writer([&] {
    wrote = writePattern(fd.get(), n, seed);
    ::shutdown(fd.get(), SHUT_WR);
  });
  std::string err = readPatternToEof(fd.get(), n, seed);
  writer.join();
  if (!wrote) return "write failed";
  return err.empty() ? "" : "echo: " + err;
}

/// "sink": n bytes, then our FIN (half-close); the agent answers with count and checksum
/// after seeing it.
std::string sinkClient(const std::string& sock, uint64_t n, uint32_t seed) {
  UniqueFd fd = connectWithRetry(sock, 5000);
  if (!fd) return "connect failed";
  setIoTimeouts(fd.get(), 15);
  if (!writeAll(fd.get(), "sink\n", 5) || !writePattern(fd.get(), n, seed)) return "write failed";
  ::shutdown(fd.get(), SHUT_WR);
  std::string reply;
  if (!readToEof(fd.get(), reply)) return "reading the sink reply failed";
  std::string want = std::to_string(n) + " " + hex16(patternFnv(n, seed)) + "\n";
  return reply == want ? "" : "sink replied \"" + reply + "\", want \"" + want + "\"";
}

/// "source": the agent sends n bytes and closes; we keep our side open until EOF arrives.
std::string sourceClient(const std::string& sock, uint64_t n, uint32_t seed) {
  UniqueFd fd = connectWithRetry(sock, 5000);
  if (!fd) return "connect failed";
  setIoTimeouts(fd.get(), 15);
  std::string cmd = "source " + std::to_string(n) + " " + std::to_string(seed) + "\n";
  if (!writeAll(fd.get(), cmd.data(), cmd.size())) return "write command failed";
  std::string err = readPatternToEof(fd.get(), n, seed);
  return err.empty() ? "" : "source: " + err;
}

/// "stats": the Go side's frame counters, e.g. {"pings_in": 3, ...}.
std::map<std::string, long> statsClient(const std::string& sock) {
  std::map<std::string, long> out;
  UniqueFd fd = connectWithRetry(sock, 5000);
  if (!fd) return out;
  setIoTimeouts(fd.get(), 5);
  if (!writeAll(fd.get(), "stats\n", 6)) return out;
  ::shutdown(fd.get(), SHUT_WR);
  std::string reply;
  if (!readToEof(fd.get(), reply)) return out;
  size_t pos = 0;
  while (pos < reply.size()) {
    size_t end = reply.find_first_of(" \n", pos);
    if (end == std::string::npos) end = reply.size();
    std::string kv = reply.substr(pos, end - pos);
    if (auto eq = kv.find('='); eq != std::string::npos) {
      out[kv.substr(0, eq)] = std::strtol(kv.c_str() + eq + 1, nullptr, 10);
    }
    pos = end + 1;
  }
  return out;
}

// ---- the Go peer as a child process --------------------------------------------------------

class GoPeer {
 public:
  GoPeer(const std::string& dir, const std::string& name, const std::vector<std::string>& args)
      : stdoutPath_(dir + "/" + name + ".stdout"), stderrPath_(dir + "/" + name + ".stderr") {
    UniqueFd out(::open(stdoutPath_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    UniqueFd err(::open(stderrPath_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    SpawnOptions so;
    so.argv = {YAMUX_PEER_BIN};
    so.argv.insert(so.argv.end(), args.begin(), args.end());
    so.stdoutFd = out.get();
    so.stderrFd = err.get();
    auto child = ChildProcess::spawn(so);
    if (child) {
      child_ = std::move(child).value();
    } else {
      spawnError_ = child.error().str();
    }
  }
  ~GoPeer() {
    ::unlink(stdoutPath_.c_str());
    ::unlink(stderrPath_.c_str());
  }  // the ChildProcess SIGKILLs and reaps a peer still running

  bool started() const { return child_.pid() > 0; }
  const std::string& spawnError() const { return spawnError_; }
  /// Exit code, or nullopt when still running after `ms`.
  std::optional<int> wait(int ms) {
    if (exitCode_) return exitCode_;
    for (int waited = 0; started(); waited += 20) {
      auto r = child_.tryWait();
      if (!r) return std::nullopt;
      if (*r) {
        exitCode_ = **r;
        return exitCode_;
      }
      if (waited >= ms) break;
      sleepMs(20);
    }
    return std::nullopt;
  }
  std::string out() const { return readFile(stdoutPath_); }
  std::string err() const { return readFile(stderrPath_); }

 private:
  std::string stdoutPath_, stderrPath_;
  ChildProcess child_;
  std::string spawnError_;
  std::optional<int> exitCode_;
};

bool waitForPath(const std::string& path, int ms) {
  for (int waited = 0; waited < ms; waited += 10) {
    if (::access(path.c_str(), F_OK) == 0) return true;
    sleepMs(10);
  }
  return false;
}

std::string makeTempDir() {
  char tmpl[] = "/tmp/kata-yamux-interop-XXXXXX";
  return mkdtemp(tmpl) ? tmpl : "";
}

void removeDir(const std::string& dir) {
  if (dir.empty()) return;
  // Only our own sockets and logs live here; a few fixed names.
  for (const char* name : {"kata.sock", "proxy.sock", "proxy.stderr", "mux.sock"}) {
    ::unlink((dir + "/" + name).c_str());
  }
  ::rmdir(dir.c_str());
}

void dumpOnFailure(const std::vector<std::pair<std::string, std::string>>& logs) {
  if (!UtestShell::getCurrent()->hasFailed()) return;
  for (const auto& [name, text] : logs) {
    fprintf(stderr, "----- %s -----\n%s\n", name.c_str(), text.c_str());
  }
}

}  // namespace

// ---- kata-proxy (client) against the Go yamux server -----------------------------------------

TEST_GROUP(ProxyVsGoAgent) {
  std::string dir, muxPath, listenPath, proxyLog;
  std::unique_ptr<GoPeer> agent;
  std::unique_ptr<ProxyProcess> proxy;

  void setup() override {
    ::signal(SIGPIPE, SIG_IGN);
    dir = makeTempDir();
    CHECK(!dir.empty());
    muxPath = dir + "/kata.sock";
    listenPath = dir + "/proxy.sock";
    proxyLog = dir + "/proxy.stderr";
    agent = std::make_unique<GoPeer>(dir, "agent",
                                     std::vector<std::string>{"agent", "-listen", muxPath});
    CHECK_TEXT(agent->started(), agent->spawnError().c_str());
    CHECK_TEXT(waitForPath(muxPath, 5000), "the Go agent never listened");
    proxy = std::make_unique<ProxyProcess>(
        KATA_PROXY_BIN,
        std::vector<std::string>{"-listen-socket", "unix://" + listenPath, "-mux-socket", muxPath,
                                 "-sandbox", "sb-interop", "-log", "debug"},
        proxyLog);
    CHECK(proxy->pid() > 0);
  }
  void teardown() override {
    dumpOnFailure({{"kata-proxy stderr", readFile(proxyLog)},
                   {"go agent stdout", agent ? agent->out() : ""},
                   {"go agent stderr", agent ? agent->err() : ""}});
    proxy.reset();  // SIGKILL if still running
    agent.reset();
    removeDir(dir);
  }

  /// SIGTERM to the proxy; both sides must then end cleanly. Returns the agent's summary.
  std::string stopAndCollect() {
    proxy->signal(SIGTERM);
    LONGS_EQUAL_TEXT(0, proxy->wait(5000), "kata-proxy exit status after SIGTERM");
    auto code = agent->wait(5000);
    CHECK_TEXT(code.has_value(), "the Go agent did not see the session end");
    LONGS_EQUAL_TEXT(0, *code, "Go agent exit status");
    return agent->out();
  }
};

TEST(ProxyVsGoAgent, ConcurrentClientsMoveChecksummedDataBothWays) {
  // Sizes above the 256 KiB window and not multiples of anything: window updates both ways,
  // partial frames, and a tail.
  struct Job {
    const char* kind;
    uint64_t bytes;
  };
  const std::vector<Job> jobs = {
      {"echo", 3 * kMiB + 17},  {"echo", 256 * 1024 + 1}, {"sink", 2 * kMiB + 5}, {"sink", 1},
      {"source", 4 * kMiB + 3}, {"source", 300 * 1024},   {"echo", 1 * kMiB},     {"source", 0}};
  std::vector<std::string> errors(jobs.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < jobs.size(); i++) {
    threads.emplace_back([&, i] {
      uint32_t seed = static_cast<uint32_t>(7 + i);
      std::string kind = jobs[i].kind;
      if (kind == "echo") errors[i] = echoClient(listenPath, jobs[i].bytes, seed);
      if (kind == "sink") errors[i] = sinkClient(listenPath, jobs[i].bytes, seed);
      if (kind == "source") errors[i] = sourceClient(listenPath, jobs[i].bytes, seed);
    });
  }
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < jobs.size(); i++) {
    STRCMP_EQUAL_TEXT(
        "", errors[i].c_str(),
        (std::string("client ") + std::to_string(i) + " (" + jobs[i].kind + ")").c_str());
  }
  std::string summary = stopAndCollect();
  // Every stream the proxy opened was served without error, and the proxy said goodbye with a
  // go-away(normal) before closing the channel.
  STRCMP_CONTAINS("streams=8 failed=0", summary.c_str());
  STRCMP_CONTAINS("goaway_in=1 goaway_code=0", summary.c_str());
  STRCMP_CONTAINS("rst_in=0 rst_out=0", summary.c_str());
}

TEST(ProxyVsGoAgent, ManyShortStreamsAtOnce) {
  const int kClients = 24;
  std::vector<std::string> errors(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; i++) {
    threads.emplace_back([&, i] {
      errors[i] = i % 2 ? sinkClient(listenPath, 1000 + i, i) : echoClient(listenPath, 5000 + i, i);
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kClients; i++) {
    STRCMP_EQUAL_TEXT("", errors[i].c_str(), ("client " + std::to_string(i)).c_str());
  }
  std::string summary = stopAndCollect();
  STRCMP_CONTAINS(("streams=" + std::to_string(kClients) + " failed=0").c_str(), summary.c_str());
}

TEST(ProxyVsGoAgent, GoAnswersTheProxyPingsAndAnIdleSessionSurvives) {
  STRCMP_EQUAL("", echoClient(listenPath, 1000, 1).c_str());
  sleepMs(3200);  // over three of the proxy's 1 s ping intervals with no stream traffic
  CHECK_TEXT(proxy->running(), "kata-proxy died while idle");
  auto stats = statsClient(listenPath);
  CHECK_TEXT(stats.count("pings_in") == 1, "no stats from the Go agent");
  // One ping a second for the 3.2 s; a slack of one for a loaded machine's late timers.
  CHECK_TEXT(stats["pings_in"] >= 2,
             ("pings seen by Go: " + std::to_string(stats["pings_in"])).c_str());
  // Answered by the Go library (one may be in flight at this instant).
  CHECK(stats["pongs_out"] >= 1 && stats["pongs_out"] >= stats["pings_in"] - 1);
  LONGS_EQUAL(0, stats["goaway_in"]);
  // The session is still usable after the idle period.
  STRCMP_EQUAL("", echoClient(listenPath, 600 * 1024, 2).c_str());
  std::string log = readFile(proxyLog);
  CHECK_TEXT(log.find("ping unanswered") == std::string::npos, "a ping went unanswered");
  CHECK_TEXT(log.find("yamux session ended") == std::string::npos, log.c_str());
  std::string summary = stopAndCollect();
  STRCMP_CONTAINS("streams=3 failed=0", summary.c_str());
}

// ---- our server side (serveMux, as kata-agent runs it) against the Go yamux client --------------

namespace {

/// What the C++ service behind one stream saw.
struct ServiceRecord {
  std::string command;
  uint64_t bytesIn = 0;
  uint64_t fnvIn = kFnvOffset;
  bool sawEof = false;  // the Go side's FIN arrived as end of file on our socket
  std::string trailer;  // "source": what Go sent after our half-close
  std::string error;
};

/// The guest side: serveMux on the connection Go makes to <dir>/mux.sock; each stream is
/// bridged to a socketpair whose other end runs a blocking service thread ("echo" / "source").
class ServerSide {
 public:
  explicit ServerSide(const std::string& path) : path_(path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path.copy(addr.sun_path, sizeof addr.sun_path - 1);
    listen_ = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!listen_ || ::bind(listen_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 ||
        ::listen(listen_.get(), 1) < 0) {
      listen_.reset();
    }
  }
  ~ServerSide() {
    // The session ends when the Go side is gone (the fixture kills it first).
    if (loopThread_.joinable()) loopThread_.join();
    for (auto& t : services_) t.join();
    ::unlink(path_.c_str());
  }

  bool listening() const { return listen_.valid(); }

  /// Accepts Go's connection (waits up to `ms`) and serves it on a loop thread.
  bool acceptAndServe(int ms) {
    pollfd p{listen_.get(), POLLIN, 0};
    if (::poll(&p, 1, ms) != 1) return false;
    UniqueFd conn(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) return false;
    loopThread_ = std::thread([this, c = std::move(conn)]() mutable { runLoop(std::move(c)); });
    return true;
  }

  /// Waits until serveMux reported the session's end; returns its reason ("" on timeout).
  std::string waitClosed(int ms) {
    for (int waited = 0; waited < ms && !closed_; waited += 10) sleepMs(10);
    std::lock_guard l(mu_);
    return closeReason_;
  }
  /// Waits for the service threads (they end at EOF) and returns what they saw.
  std::vector<ServiceRecord> records() {
    if (loopThread_.joinable()) loopThread_.join();
    for (auto& t : services_) t.join();
    services_.clear();
    std::lock_guard l(mu_);
    return records_;
  }

 private:
  void runLoop(UniqueFd conn) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    auto st = yamux::serveMux(
        &loop, std::move(conn),
        [this]() -> Result<UniqueFd> {
          int sv[2];
          if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
            return sysError("socketpair");
          }
          // Services are started on the loop thread and joined by the test thread.
          services_.emplace_back([this, fd = sv[0]] { serve(UniqueFd(fd)); });
          return UniqueFd(sv[1]);
        },
        [this](const Error& why) {
          std::lock_guard l(mu_);
          closeReason_ = why.str();
          closed_ = true;
        });
    if (!st.ok()) {
      std::lock_guard l(mu_);
      closeReason_ = "serveMux failed: " + st.error().str();
      closed_ = true;
    }
    uv_run(&loop, UV_RUN_DEFAULT);  // returns once the session freed all its handles
    uv_loop_close(&loop);
  }

  void serve(UniqueFd fd) {
    setIoTimeouts(fd.get(), 15);
    ServiceRecord rec;
    std::string line;
    char c;
    while (line.size() < 64 && ::read(fd.get(), &c, 1) == 1 && c != '\n') line += c;
    rec.command = line;
    std::vector<uint8_t> buf(64 * 1024);
    if (line == "echo") {
      for (;;) {
        ssize_t n = ::read(fd.get(), buf.data(), buf.size());
        if (n == 0) {
          rec.sawEof = true;
          break;
        }
        if (n < 0) {
          rec.error = std::string("read: ") + strerror(errno);
          break;
        }
        rec.bytesIn += static_cast<uint64_t>(n);
        rec.fnvIn = fnvUpdate(rec.fnvIn, buf.data(), static_cast<size_t>(n));
        if (!writeAll(fd.get(), buf.data(), static_cast<size_t>(n))) {
          rec.error = "echo write failed";
          break;
        }
      }
      ::shutdown(fd.get(), SHUT_WR);
    } else if (line.rfind("source ", 0) == 0) {
      unsigned long long n = 0;
      unsigned seed = 0;
      if (sscanf(line.c_str(), "source %llu %u", &n, &seed) != 2) {
        rec.error = "bad command";
      } else if (!writePattern(fd.get(), n, seed)) {
        rec.error = "source write failed";
      } else {
        ::shutdown(fd.get(), SHUT_WR);  // our FIN first; Go answers after it
        rec.sawEof = readToEof(fd.get(), rec.trailer);
        if (!rec.sawEof) rec.error = std::string("trailer read: ") + strerror(errno);
      }
    } else {
      rec.error = "unknown command \"" + line + "\"";
    }
    std::lock_guard l(mu_);
    records_.push_back(std::move(rec));
  }

  std::string path_;
  UniqueFd listen_;
  std::thread loopThread_;
  std::vector<std::thread> services_;  // touched by the loop thread until it ends
  std::mutex mu_;
  std::atomic<bool> closed_{false};
  std::string closeReason_;
  std::vector<ServiceRecord> records_;
};

}  // namespace

TEST_GROUP(ServeMuxVsGoProxy) {
  std::string dir, muxPath;
  std::unique_ptr<ServerSide> server;
  std::unique_ptr<GoPeer> goProxy;

  void setup() override {
    ::signal(SIGPIPE, SIG_IGN);
    dir = makeTempDir();
    CHECK(!dir.empty());
    muxPath = dir + "/mux.sock";
    server = std::make_unique<ServerSide>(muxPath);
    CHECK(server->listening());
  }
  void teardown() override {
    dumpOnFailure({{"go proxy stdout", goProxy ? goProxy->out() : ""},
                   {"go proxy stderr", goProxy ? goProxy->err() : ""}});
    goProxy.reset();  // SIGKILL if still running: the session then ends with EOF
    server.reset();
    removeDir(dir);
  }

  /// Runs the Go client to completion; returns its summary line.
  std::string runGo(const std::vector<std::string>& extra) {
    std::vector<std::string> args{"proxy", "-connect", muxPath};
    args.insert(args.end(), extra.begin(), extra.end());
    goProxy = std::make_unique<GoPeer>(dir, "goproxy", args);
    CHECK_TEXT(goProxy->started(), goProxy->spawnError().c_str());
    CHECK_TEXT(server->acceptAndServe(5000), "the Go client never connected");
    auto code = goProxy->wait(20000);
    CHECK_TEXT(code.has_value(), "the Go client did not finish in 20 s");
    LONGS_EQUAL_TEXT(0, *code, ("Go client failed: " + goProxy->err()).c_str());
    return goProxy->out();
  }

  /// Every stream i (bytes + i long, seed 1000 + i) was served right on our side.
  void checkRecords(int streams, uint64_t bytes) {
    auto recs = server->records();
    LONGS_EQUAL(streams, recs.size());
    std::map<uint64_t, ServiceRecord> echoes;  // by length: each stream has its own
    std::map<uint64_t, ServiceRecord> sources;
    for (const auto& r : recs) {
      STRCMP_EQUAL_TEXT("", r.error.c_str(), r.command.c_str());
      CHECK_TEXT(r.sawEof, ("no FIN from Go on \"" + r.command + "\"").c_str());
      if (r.command == "echo") {
        echoes[r.bytesIn] = r;
      } else {
        unsigned long long n = 0;
        sscanf(r.command.c_str(), "source %llu", &n);
        sources[n] = r;
      }
    }
    for (int i = 0; i < streams; i++) {
      uint64_t n = bytes + i;
      if (i % 2 == 0) {
        CHECK_TEXT(echoes.count(n) == 1, ("echo stream " + std::to_string(i)).c_str());
        CHECK_TEXT(echoes[n].fnvIn == patternFnv(n, 1000 + i),
                   ("checksum of echo stream " + std::to_string(i)).c_str());
      } else {
        CHECK_TEXT(sources.count(n) == 1, ("source stream " + std::to_string(i)).c_str());
        STRCMP_EQUAL(("done " + std::to_string(n) + "\n").c_str(), sources[n].trailer.c_str());
      }
    }
  }
};

TEST(ServeMuxVsGoProxy, GoStreamsMoveChecksummedDataAndCloseCleanly) {
  const int kStreams = 6;
  const uint64_t kBytes = 1 * kMiB + 100 * 1024;
  std::string summary = runGo(
      {"-streams", std::to_string(kStreams), "-bytes", std::to_string(kBytes), "-pings", "3"});
  STRCMP_CONTAINS("ok=6 failed=0", summary.c_str());
  // Our server answered every ping and neither side reset a stream.
  STRCMP_CONTAINS("pongs_in=3", summary.c_str());
  STRCMP_CONTAINS("rst_in=0 rst_out=0", summary.c_str());
  checkRecords(kStreams, kBytes);
  std::string reason = server->waitClosed(5000);
  STRCMP_CONTAINS("closed by the peer", reason.c_str());
}

TEST(ServeMuxVsGoProxy, ManyStreamsOpenedConcurrently) {
  // Go allocates ids and sends SYNs from concurrent goroutines: SYNs may arrive out of order.
  const int kStreams = 64;
  const uint64_t kBytes = 20000;
  std::string summary = runGo(
      {"-streams", std::to_string(kStreams), "-bytes", std::to_string(kBytes), "-pings", "0"});
  STRCMP_CONTAINS("ok=64 failed=0", summary.c_str());
  checkRecords(kStreams, kBytes);
  STRCMP_CONTAINS("closed by the peer", server->waitClosed(5000).c_str());
}

TEST(ServeMuxVsGoProxy, GoAwayFromGoLetsOpenStreamsFinish) {
  // Upstream semantics: go-away(normal) only refuses new streams; the ones open carry on.
  const int kStreams = 4;
  const uint64_t kBytes = 1 * kMiB;
  std::string summary = runGo({"-streams", std::to_string(kStreams), "-bytes",
                               std::to_string(kBytes), "-pings", "1", "-goaway"});
  STRCMP_CONTAINS("ok=4 failed=0 goaway_sent=true", summary.c_str());
  checkRecords(kStreams, kBytes);
  STRCMP_CONTAINS("go-away", server->waitClosed(5000).c_str());
}
