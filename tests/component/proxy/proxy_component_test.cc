// The real kata-proxy binary against a yamux server in the test standing in for the guest
// agent behind QEMU's chardev socket.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "lib/capped_file.h"
#include "proxy/console.h"
#include "tests/component/proxy/proxy_harness.h"

// CppUTest comes last: its leak-checking macros redefine operator new.
#include <CppUTest/TestHarness.h>

using namespace kata;
using namespace kata::testing;

namespace {

const char* kSandbox = "sb-component";

void sleepMs(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// Sends `total` pattern bytes on one thread while checking the echo on this one.
bool echoTransfer(int fd, uint64_t total, uint32_t seed, uint64_t* checksumOut = nullptr) {
  std::atomic<bool> writeOk{true};
  std::thread writer([&] {
    std::vector<uint8_t> buf(256 * 1024);
    for (uint64_t off = 0; off < total;) {
      size_t n = std::min<uint64_t>(buf.size(), total - off);
      for (size_t i = 0; i < n; i++) buf[i] = patternByte(off + i, seed);
      if (!writeAll(fd, buf.data(), n)) {
        writeOk = false;
        return;
      }
      off += n;
    }
    ::shutdown(fd, SHUT_WR);
  });
  std::vector<uint8_t> buf(256 * 1024);
  uint64_t got = 0;
  uint64_t sum = 1469598103934665603ull;  // FNV-1a over everything received
  bool same = true;
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; i++) {
      if (buf[i] != patternByte(got + i, seed)) same = false;
      sum = (sum ^ buf[i]) * 1099511628211ull;
    }
    got += static_cast<uint64_t>(n);
  }
  writer.join();
  if (checksumOut) *checksumOut = sum;
  return writeOk && same && got == total;
}

uint64_t expectedChecksum(uint64_t total, uint32_t seed) {
  uint64_t sum = 1469598103934665603ull;
  for (uint64_t i = 0; i < total; i++) sum = (sum ^ patternByte(i, seed)) * 1099511628211ull;
  return sum;
}

size_t countLines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

}  // namespace

TEST_GROUP(ProxyComponent) {
  std::string dir;
  std::string listenPath;
  std::string stderrPath;

  void setup() override {
    ::signal(SIGPIPE, SIG_IGN);
    char tmpl[] = "/tmp/kata-proxy-test-XXXXXX";
    CHECK(mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    listenPath = dir + "/proxy.sock";
    stderrPath = dir + "/proxy.stderr";
  }
  void teardown() override {
    ::unlink(listenPath.c_str());
    ::unlink(stderrPath.c_str());
    ::unlink((dir + "/console.log").c_str());
    ::unlink((dir + "/virtiofsd.log").c_str());
    ::rmdir(dir.c_str());
  }

  std::vector<std::string> args(const FakeAgent& agent) {
    return {"-listen-socket",
            "unix://" + listenPath,
            "-mux-socket",
            agent.muxPath(),
            "-sandbox",
            kSandbox,
            "-log",
            "debug",
            "-agent-logs-socket",
            agent.consolePath()};
  }
  std::string log() { return readFile(stderrPath); }
};

TEST(ProxyComponent, ListenSocketIsPrivateAndRemovedOnSigterm) {
  FakeAgent agent(dir, FakeAgent::Mode::Serve, echoService);
  agent.listen();
  ProxyProcess proxy(KATA_PROXY_BIN, args(agent), stderrPath);
  UniqueFd client = connectWithRetry(listenPath, 5000);
  CHECK(client.valid());
  struct stat st;
  CHECK(::stat(listenPath.c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  LONGS_EQUAL(0600, st.st_mode & 07777);
  CHECK(echoTransfer(client.get(), 1000, 1));
  proxy.signal(SIGTERM);
  LONGS_EQUAL(0, proxy.wait(5000));
  CHECK(::access(listenPath.c_str(), F_OK) != 0);
  for (int i = 0; i < 500 && !agent.sessionClosed; i++) sleepMs(10);
  STRCMP_CONTAINS("go-away: normal", agent.closeReason().c_str());
  std::string text = log();
  STRCMP_CONTAINS("name=kata-proxy", text.c_str());
  STRCMP_CONTAINS("sandbox=sb-component", text.c_str());
  STRCMP_CONTAINS("source=proxy", text.c_str());
}

TEST(ProxyComponent, ManyConcurrentStreams) {
  FakeAgent agent(dir, FakeAgent::Mode::Serve, echoService);
  agent.listen();
  ProxyProcess proxy(KATA_PROXY_BIN, args(agent), stderrPath);
  const int kClients = 32;
  std::atomic<int> good{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; i++) {
    clients.emplace_back([&, i] {
      UniqueFd fd = connectWithRetry(listenPath, 5000);
      if (fd && echoTransfer(fd.get(), 2 << 20, 100 + i)) good++;
    });
  }
  for (auto& t : clients) t.join();
  LONGS_EQUAL(kClients, good.load());
  LONGS_EQUAL(kClients, agent.streamsServed.load());
  CHECK(proxy.running());
}

TEST(ProxyComponent, HundredMiBEachWayWithChecksum) {
  FakeAgent agent(dir, FakeAgent::Mode::Serve, echoService);
  agent.listen();
  ProxyProcess proxy(KATA_PROXY_BIN, args(agent), stderrPath);
  UniqueFd client = connectWithRetry(listenPath, 5000);
  CHECK(client.valid());
  const uint64_t kTotal = 100ull << 20;
  uint64_t sum = 0;
  CHECK(echoTransfer(client.get(), kTotal, 7, &sum));
  CHECK(sum == expectedChecksum(kTotal, 7));
}

TEST(ProxyComponent, StalledAgentServiceBoundsBufferingAndBlocksNoOtherStream) {
  std::atomic<bool> release{false};
  FakeAgent agent(dir, FakeAgent::Mode::Serve, [&](int fd) {
    char first;
    if (::read(fd, &first, 1) != 1) return;
    if (first == 'H') {
      while (!release) sleepMs(5);  // a service that stops reading
    }
    writeAll(fd, &first, 1);
    echoService(fd);
  });
  agent.listen();
  ProxyProcess proxy(KATA_PROXY_BIN, args(agent), stderrPath);
  UniqueFd stalled = connectWithRetry(listenPath, 5000);
  CHECK(writeAll(stalled.get(), "H", 1));
  // Push until the client's socket blocks: everything in flight must stay bounded.
  struct timeval tv {
    0, 300000
  };
  setsockopt(stalled.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::vector<uint8_t> chunk(64 * 1024, 'x');
  uint64_t pushed = 1;
  for (;;) {
    ssize_t n = ::send(stalled.get(), chunk.data(), chunk.size(), MSG_NOSIGNAL);
    if (n <= 0) break;
    pushed += static_cast<uint64_t>(n);
    CHECK(pushed < (8u << 20));  // socket buffers + one 256 KiB window, not unbounded
  }
  CHECK(pushed > 256 * 1024);
  // Another stream still flows while the first one is stalled.
  UniqueFd other = connectWithRetry(listenPath, 5000);
  CHECK(echoTransfer(other.get(), 1 << 20, 3));
  CHECK(rssKiB(proxy.pid()) < 64 * 1024);
  release = true;
  ::shutdown(stalled.get(), SHUT_WR);
  uint64_t echoed = 0;
  char buf[65536];
  ssize_t n;
  struct timeval rtv {
    10, 0
  };
  setsockopt(stalled.get(), SOL_SOCKET, SO_RCVTIMEO, &rtv, sizeof rtv);
  while ((n = ::read(stalled.get(), buf, sizeof buf)) > 0) echoed += static_cast<uint64_t>(n);
  LONGS_EQUAL(pushed, echoed);
}

TEST(ProxyComponent, SlowClientReaderBoundsProxyMemory) {
  const uint64_t kTotal = 64ull << 20;
  FakeAgent agent(dir, FakeAgent::Mode::Serve, [&](int fd) {
    char go[2];
    if (::read(fd, go, 2) != 2) return;
    std::vector<uint8_t> buf(256 * 1024);
    for (uint64_t off = 0; off < kTotal;) {
      size_t n = std::min<uint64_t>(buf.size(), kTotal - off);
      for (size_t i = 0; i < n; i++) buf[i] = patternByte(off + i, 9);
      if (!writeAll(fd, buf.data(), n)) return;
      off += n;
    }
    ::shutdown(fd, SHUT_WR);
  });
  agent.listen();
  ProxyProcess proxy(KATA_PROXY_BIN, args(agent), stderrPath);
  UniqueFd client = connectWithRetry(listenPath, 5000);
  CHECK(writeAll(client.get(), "go", 2));
  sleepMs(200);
  long before = rssKiB(proxy.pid());
  sleepMs(800);  // not reading: the agent must be held back by the window
  long after = rssKiB(proxy.pid());
  CHECK(after - before < 8 * 1024);
  CHECK(after < 64 * 1024);
  uint64_t got = 0;
  bool same = true;
  std::vector<uint8_t> buf(256 * 1024);
  ssize_t n;
  while ((n = ::read(client.get(), buf.data(), buf.size())) > 0) {
    for (ssize_t i = 0; i < n; i++) same &= buf[i] == patternByte(got + i, 9);
    got += static_cast<uint64_t>(n);
  }
  CHECK(same);
  CHECK(got == kTotal);
}

TEST(ProxyComponent, GarbageFromTheAgentEndsTheProxyWithGoAway) {
  FakeAgent agent(dir, FakeAgent::Mode::Garbage, echoService);
  agent.listen();
  ProxyProcess proxy(KATA_PROXY_BIN, args(agent), stderrPath);
  int status = proxy.wait(10000);
  CHECK(status > 0);
  for (int i = 0; i < 500 && !agent.sessionClosed; i++) sleepMs(10);
  std::string reply = agent.garbageReply();
  const std::string goAway("\x00\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01", 12);
  CHECK(reply.size() >= 12);
  CHECK(reply.substr(reply.size() - 12) == goAway);
  STRCMP_CONTAINS("protocol error", log().c_str());
  CHECK(::access(listenPath.c_str(), F_OK) != 0);
}

TEST(ProxyComponent, AgentDisappearingMidStreamFailsClientsWithoutHanging) {
  FakeAgent agent(dir, FakeAgent::Mode::Serve, echoService);
  agent.listen();
  ProxyProcess proxy(KATA_PROXY_BIN, args(agent), stderrPath);
  UniqueFd client = connectWithRetry(listenPath, 5000);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    std::vector<uint8_t> buf(64 * 1024, 'y');
    while (!stop && writeAll(client.get(), buf.data(), buf.size())) {
    }
  });
  struct timeval tv {
    10, 0
  };
  setsockopt(client.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  uint64_t got = 0;
  char buf[65536];
  ssize_t n = 0;
  bool dropped = false;
  while ((n = ::read(client.get(), buf, sizeof buf)) > 0) {
    got += static_cast<uint64_t>(n);
    if (!dropped && got > (1u << 20)) {
      agent.dropConnection();
      dropped = true;
    }
  }
  int err = errno;
  CHECK(dropped);
  CHECK(n == 0 || err != EAGAIN);  // ended by the proxy, not by our 10 s timeout
  stop = true;
  ::shutdown(client.get(), SHUT_RDWR);
  writer.join();
  LONGS_EQUAL(0, proxy.wait(5000));  // the VM side closing is a clean exit
  CHECK(::access(listenPath.c_str(), F_OK) != 0);
}

TEST(ProxyComponent, PingsTheAgentEverySecond) {
  FakeAgent agent(dir, FakeAgent::Mode::Serve, echoService);
  agent.listen();
  ProxyProcess proxy(KATA_PROXY_BIN, args(agent), stderrPath);
  for (int i = 0; i < 500 && agent.pingsReceived < 2; i++) sleepMs(10);
  CHECK(agent.pingsReceived >= 2);
}

TEST(ProxyComponent, ConsoleLinesAreReloggedWithSandboxId) {
  FakeAgent agent(dir, FakeAgent::Mode::Serve, echoService);
  agent.listen();
  ProxyProcess proxy(KATA_PROXY_BIN, args(agent), stderrPath);
  CHECK(agent.writeConsole("[    0.5] guest kernel line\r\nagent says hi\npartial"));
  for (int i = 0; i < 500 && log().find("agent says hi") == std::string::npos; i++) sleepMs(10);
  proxy.signal(SIGTERM);
  LONGS_EQUAL(0, proxy.wait(5000));
  std::string text = log();
  std::string line;
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    std::string l = text.substr(pos, nl - pos);
    if (l.find("agent says hi") != std::string::npos) line = l;
    pos = nl == std::string::npos ? text.size() : nl + 1;
  }
  STRCMP_CONTAINS("msg=\"agent says hi\"", line.c_str());
  STRCMP_CONTAINS("source=agent", line.c_str());
  STRCMP_CONTAINS("sandbox=sb-component", line.c_str());
  STRCMP_CONTAINS("msg=\"[    0.5] guest kernel line\"", text.c_str());
}

// A guest that floods its console (far more than the cap, plus one endless line) cannot grow
// console.log or proxy.log (which relays each line) beyond kGuestLogMaxBytes, and the newest
// lines are still in both.
TEST(ProxyComponent, ConsoleFloodKeepsLogsBoundedWithTheNewestLines) {
  const std::string consoleLog = dir + "/console.log";
  FakeAgent agent(dir, FakeAgent::Mode::Serve, echoService);
  agent.listen();
  ProxyProcess proxy(KATA_PROXY_BIN, args(agent), stderrPath,
                     {"KATA_PROXY_CONSOLE_LOG=" + consoleLog});
  const int kLines = 60000;  // 6 MB of console, 6x the cap
  std::string chunk;
  for (int i = 0; i < kLines; i++) {
    char line[128];
    snprintf(line, sizeof line, "flood line %06d %s\n", i, std::string(80, 'x').c_str());
    chunk += line;
    if (chunk.size() > 64 * 1024 || i == kLines - 1) {
      CHECK(agent.writeConsole(chunk));
      chunk.clear();
    }
  }
  CHECK(agent.writeConsole(std::string(3 << 20, 'y')));  // 3 MB without a newline
  CHECK(agent.writeConsole("\nthe newest line\n"));
  for (int i = 0; i < 3000 && (readFile(consoleLog).find("the newest line") == std::string::npos ||
                               log().find("the newest line") == std::string::npos);
       i++)
    sleepMs(10);
  proxy.signal(SIGTERM);
  LONGS_EQUAL(0, proxy.wait(5000));
  for (const std::string& path : {consoleLog, stderrPath}) {
    std::string text = readFile(path);
    CHECK_TEXT(text.size() <= kGuestLogMaxBytes, path.c_str());
    CHECK_TEXT(text.size() >= kGuestLogMaxBytes / 4, path.c_str());  // capped, not emptied
    STRCMP_CONTAINS("the newest line", text.c_str());
    STRCMP_CONTAINS("older bytes dropped", text.c_str());
    CHECK_TEXT(text.find("flood line 000000") == std::string::npos, path.c_str());
  }
  // The console log is the raw console: its end is exactly what the guest wrote last.
  std::string console = readFile(consoleLog);
  std::string tail = std::string(1000, 'y') + "\nthe newest line\n";
  CHECK(console.size() >= tail.size() &&
        console.compare(console.size() - tail.size(), tail.size(), tail) == 0);
  // Relayed lines are cut at kMaxRelayedLine: no log line is longer than that plus its fields.
  std::string text = log();
  size_t longest = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = std::min(text.find('\n', pos), text.size());
    longest = std::max(longest, nl - pos);
    pos = nl + 1;
  }
  CHECK(longest < proxy::kMaxRelayedLine + 512);
}

// virtiofsd's stderr, which a guest can fill with one error line per malformed request,
// reaches the proxy as a pipe on fd 3 and is kept in a capped file.
TEST(ProxyComponent, VirtiofsdPipeIsKeptInACappedFile) {
  const std::string fsLog = dir + "/virtiofsd.log";
  int p[2];
  CHECK(pipe2(p, O_CLOEXEC) == 0);
  UniqueFd readEnd(p[0]), writeEnd(p[1]);
  FakeAgent agent(dir, FakeAgent::Mode::Serve, echoService);
  agent.listen();
  ProxyProcess proxy(KATA_PROXY_BIN, args(agent), stderrPath, {"KATA_PROXY_VIRTIOFSD_LOG=" + fsLog},
                     readEnd.get());
  readEnd.reset();
  std::string chunk;
  for (int i = 0; i < 40000; i++) {  // 3 MB
    chunk += "[ERROR virtiofsd] fv_queue_worker: skip failed " + std::to_string(i) + "\n";
    if (chunk.size() > 64 * 1024) {
      CHECK(writeAll(writeEnd.get(), chunk.data(), chunk.size()));
      chunk.clear();
    }
  }
  std::string last = "the last virtiofsd line\n";
  CHECK(writeAll(writeEnd.get(), last.data(), last.size()));
  writeEnd.reset();  // virtiofsd exits
  for (int i = 0; i < 3000 && readFile(fsLog).find("the last virtiofsd line") == std::string::npos;
       i++)
    sleepMs(10);
  std::string text = readFile(fsLog);
  CHECK(text.size() <= kGuestLogMaxBytes);
  CHECK(text.size() >= kGuestLogMaxBytes / 4);
  STRCMP_CONTAINS("older bytes dropped", text.c_str());
  CHECK(text.size() > last.size() && text.substr(text.size() - last.size()) == last);
  CHECK(proxy.running());  // the end of virtiofsd's stderr is not the end of the proxy
  // The file is the proxy's only: virtiofsd's lines are not relayed to its log.
  CHECK(log().find("skip failed") == std::string::npos);
}

TEST(ProxyComponent, WaitsForAMuxSocketThatAppearsLate) {
  FakeAgent agent(dir, FakeAgent::Mode::Serve, echoService);
  ProxyProcess proxy(KATA_PROXY_BIN, args(agent), stderrPath);
  sleepMs(300);
  CHECK(proxy.running());
  agent.listen();
  UniqueFd client = connectWithRetry(listenPath, 5000);
  CHECK(client.valid());
  CHECK(echoTransfer(client.get(), 4096, 5));
}

TEST(ProxyComponent, UnreachableMuxSocketIsAOneLineError) {
  ProxyProcess proxy(KATA_PROXY_BIN,
                     {"-listen-socket", "unix://" + listenPath, "-mux-socket",
                      dir + "/missing.sock", "-sandbox", kSandbox},
                     stderrPath);
  LONGS_EQUAL(1, proxy.wait(20000));
  std::string text = log();
  LONGS_EQUAL(1, countLines(text));
  STRCMP_CONTAINS(("connect to " + dir + "/missing.sock").c_str(), text.c_str());
  CHECK(::access(listenPath.c_str(), F_OK) != 0);
}

TEST(ProxyComponent, BadCommandLineIsAOneLineError) {
  ProxyProcess proxy(KATA_PROXY_BIN, {"-listen-socket", listenPath, "-mux-socket", "x"},
                     stderrPath);
  LONGS_EQUAL(2, proxy.wait(5000));
  std::string text = log();
  LONGS_EQUAL(1, countLines(text));
  STRCMP_CONTAINS("unix://", text.c_str());
}
