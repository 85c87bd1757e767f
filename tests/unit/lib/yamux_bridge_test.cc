// The libuv adapter and the bridge, in one process: a client Mux and serveMux() over a
// socketpair (or a pty, a char device like the guest's virtio-serial port), with echo services
// on blocking threads standing in for gRPC.
#include "lib/yamux_bridge.h"

#include <fcntl.h>
#include <pty.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

// CppUTest comes last: its leak-checking macros redefine operator new.
#include <CppUTest/TestHarness.h>

using namespace kata;
using namespace kata::yamux;

namespace {

std::pair<UniqueFd, UniqueFd> socketPair() {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) FAIL("socketpair");
  return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

// Runs the loop until `done` or `ms` elapse; returns done().
template <class Pred>
bool runUntil(uv_loop_t* loop, Pred done, int ms = 10000) {
  uv::Timer tick;
  (void)tick.init(loop, [] {});
  tick.start(10, 10);
  uint64_t deadline = uv_now(loop) + ms;
  while (!done() && uv_now(loop) < deadline) uv_run(loop, UV_RUN_ONCE);
  tick.reset();
  uv_run(loop, UV_RUN_NOWAIT);
  return done();
}

// Echoes everything until EOF, then closes: one "gRPC connection" of the agent.
void echo(int fd) {
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(fd, buf + off, n - off);
      if (w <= 0) {
        close(fd);
        return;
      }
      off += w;
    }
  }
  shutdown(fd, SHUT_WR);
  close(fd);
}

struct EchoServices {
  std::vector<std::thread> threads;
  std::atomic<int> served{0};
  std::function<Result<UniqueFd>()> factory() {
    return [this]() -> Result<UniqueFd> {
      auto [ours, theirs] = socketPair();
      int fd = theirs.release();
      served++;
      threads.emplace_back([fd] { echo(fd); });
      return std::move(ours);
    };
  }
  ~EchoServices() {
    for (auto& t : threads) t.join();
  }
};

uint8_t patternByte(size_t i) { return static_cast<uint8_t>((i * 2654435761u) >> 13); }

// Client side of a stream: sends `total` pattern bytes, checks the echo, then closes.
class EchoChecker : public StreamHandler {
 public:
  EchoChecker(size_t total, bool* finished, bool* ok)
      : total_(total), finished_(finished), ok_(ok) {}
  void onWritable(Stream& s) override { pushData(s); }
  void onReadable(Stream& s) override {
    for (auto c = s.peek(); !c.empty(); c = s.peek()) {
      for (uint8_t b : c) {
        if (b != patternByte(received_++)) *ok_ = false;
      }
      s.consume(c.size());
    }
    if (s.atEof()) eof_ = true;
  }
  void onClosed(Stream&, const Error& reason) override {
    *finished_ = true;
    if (received_ != total_ || !eof_) *ok_ = false;
  }
  void pushData(Stream& s) {
    uint8_t buf[32768];
    while (sent_ < total_ && s.writable() > 0) {
      size_t n = std::min({sizeof buf, total_ - sent_, s.writable()});
      for (size_t i = 0; i < n; i++) buf[i] = patternByte(sent_ + i);
      auto w = s.write({buf, n});
      if (!w.ok()) return;
      sent_ += *w;
    }
    if (sent_ == total_ && !finSent_) {
      finSent_ = true;
      (void)s.closeWrite();
    }
  }

 private:
  size_t total_, sent_ = 0, received_ = 0;
  bool eof_ = false, finSent_ = false;
  bool* finished_;
  bool* ok_;
};

}  // namespace

TEST_GROUP(YamuxBridge) {
  uv_loop_t loop;
  void setup() override { uv_loop_init(&loop); }
  void teardown() override {
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK_EQUAL(0, uv_loop_close(&loop));  // every handle was closed
  }
};

TEST(YamuxBridge, ConcurrentEchoStreamsThroughServeMux) {
  EchoServices services;
  auto [clientEnd, serverEnd] = socketPair();
  bool serverClosed = false;
  Error serverReason;
  CHECK(serveMux(&loop, std::move(serverEnd), services.factory(), [&](const Error& e) {
          serverClosed = true;
          serverReason = e;
        }).ok());
  MuxOptions co;
  co.pingIntervalMs = 20;
  auto mux = Mux::start(&loop, std::move(clientEnd), co, nullptr, [](const Error&) {});
  CHECK(mux.ok());
  const int kStreams = 8;
  bool finished[kStreams] = {};
  bool ok[kStreams];
  for (int i = 0; i < kStreams; i++) {
    ok[i] = true;
    auto s = (*mux)->open();
    CHECK(s.ok());
    auto checker = std::make_unique<EchoChecker>(3 << 20, &finished[i], &ok[i]);
    EchoChecker* raw = checker.get();
    (*s)->setHandler(std::move(checker));
    raw->pushData(**s);
  }
  bool done = runUntil(&loop, [&] {
    for (bool f : finished)
      if (!f) return false;
    return (*mux)->lastRttMs().has_value();
  });
  CHECK(done);
  for (bool o : ok) CHECK(o);
  LONGS_EQUAL(kStreams, services.served.load());
  LONGS_EQUAL(0, (*mux)->streamCount());
  CHECK(done);
  // Closing the client's side of the channel ends the server session.
  mux->reset();
  CHECK(runUntil(&loop, [&] { return serverClosed; }));
  STRCMP_CONTAINS("closed by the peer", serverReason.message.c_str());
}

TEST(YamuxBridge, BridgeCarriesHalfCloseToThePeerSocket) {
  EchoServices services;
  auto [clientEnd, serverEnd] = socketPair();
  bool serverClosed = false;
  CHECK(serveMux(&loop, std::move(serverEnd), services.factory(), [&](const Error&) {
          serverClosed = true;
        }).ok());
  auto mux = Mux::start(&loop, std::move(clientEnd), MuxOptions{}, nullptr, [](const Error&) {});
  auto stream = (*mux)->open();
  auto [app, bridged] = socketPair();
  CHECK(bridge(**stream, std::move(bridged)).ok());
  std::string msg = "ping through two bridges";
  CHECK(write(app.get(), msg.data(), msg.size()) == static_cast<ssize_t>(msg.size()));
  shutdown(app.get(), SHUT_WR);
  std::string got;
  bool eof = false;
  fcntl(app.get(), F_SETFL, O_NONBLOCK);
  CHECK(runUntil(&loop, [&] {
    char buf[256];
    ssize_t n;
    while ((n = read(app.get(), buf, sizeof buf)) > 0) got.append(buf, n);
    if (n == 0) eof = true;
    return eof;
  }));
  CHECK(msg == got);
  CHECK(runUntil(&loop, [&] { return (*mux)->streamCount() == 0; }));
  mux->reset();
  CHECK(runUntil(&loop, [&] { return serverClosed; }));
}

TEST(YamuxBridge, GarbageFromThePeerGetsGoAwayAndEndsTheSession) {
  EchoServices services;
  auto [raw, serverEnd] = socketPair();
  bool closed = false;
  Error reason;
  CHECK(serveMux(&loop, std::move(serverEnd), services.factory(), [&](const Error& e) {
          closed = true;
          reason = e;
        }).ok());
  const char garbage[] = "GET / HTTP/1.1\r\n\r\n";
  CHECK(write(raw.get(), garbage, sizeof garbage) > 0);
  CHECK(runUntil(&loop, [&] { return closed; }));
  STRCMP_CONTAINS("protocol error", reason.message.c_str());
  uint8_t buf[64];
  ssize_t n = read(raw.get(), buf, sizeof buf);
  LONGS_EQUAL(12, n);
  const uint8_t goAway[12] = {0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  MEMCMP_EQUAL(goAway, buf, 12);
  LONGS_EQUAL(0, read(raw.get(), buf, sizeof buf));  // and the connection is closed
}

TEST(YamuxBridge, PeerDisappearingClosesBridgedClients) {
  // The server side is a raw socket that accepts one stream and then vanishes.
  auto [clientEnd, raw] = socketPair();
  bool closed = false;
  auto mux = Mux::start(&loop, std::move(clientEnd), MuxOptions{}, nullptr,
                        [&](const Error&) { closed = true; });
  auto stream = (*mux)->open();
  auto [app, bridged] = socketPair();
  CHECK(bridge(**stream, std::move(bridged)).ok());
  CHECK(runUntil(
      &loop, [] { return true; }, 50));
  raw.reset();
  CHECK(runUntil(&loop, [&] { return closed; }));
  char buf[16];
  LONGS_EQUAL(0, read(app.get(), buf, sizeof buf));  // the client sees the end, no hang
}

TEST(YamuxBridge, WriteTimeoutEndsASessionWhosePeerStopsReading) {
  auto [muxEnd, raw] = socketPair();
  int small = 4096;
  setsockopt(muxEnd.get(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  setsockopt(raw.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  MuxOptions o = serverOptions();
  o.writeTimeoutMs = 100;
  o.outputHighWater = 1024;
  bool closed = false;
  Error reason;
  auto mux = Mux::start(&loop, std::move(muxEnd), o, nullptr, [&](const Error& e) {
    closed = true;
    reason = e;
  });
  // Ping requests whose replies we never read.
  const int kPings = 100000;
  std::string pings;
  for (int i = 0; i < kPings; i++) appendFrame(pings, Header{FrameType::Ping, kFlagSyn, 0, 1});
  fcntl(raw.get(), F_SETFL, O_NONBLOCK);
  size_t off = 0;
  CHECK(runUntil(
      &loop,
      [&] {
        if (off < pings.size()) {
          ssize_t n = send(raw.get(), pings.data() + off, pings.size() - off, MSG_NOSIGNAL);
          if (n > 0) off += n;
        }
        return closed;
      },
      5000));
  STRCMP_CONTAINS("write timeout", reason.message.c_str());
  // Output stayed bounded: the session stopped reading once far behind (4 x high water plus
  // at most one read of 256 KiB answered).
  CHECK((*mux)->stats().pingsReceived * kHeaderSize < 4 * 1024 + 256 * 1024 + 64 * 1024);
}

TEST(YamuxBridge, WorksOnACharacterDevice) {
  // A pty in raw mode is a character device like /dev/vportNpM: no socket calls apply.
  int master, slave;
  CHECK(openpty(&master, &slave, nullptr, nullptr, nullptr) == 0);
  struct termios t;
  tcgetattr(slave, &t);
  cfmakeraw(&t);
  tcsetattr(slave, TCSANOW, &t);
  tcgetattr(master, &t);
  cfmakeraw(&t);
  tcsetattr(master, TCSANOW, &t);
  fcntl(master, F_SETFD, FD_CLOEXEC);
  fcntl(slave, F_SETFD, FD_CLOEXEC);
  EchoServices services;
  bool serverClosed = false;
  CHECK(serveMux(&loop, UniqueFd(slave), services.factory(), [&](const Error&) {
          serverClosed = true;
        }).ok());
  auto mux = Mux::start(&loop, UniqueFd(master), MuxOptions{}, nullptr, [](const Error&) {});
  CHECK(mux.ok());
  bool finished = false, ok = true;
  auto s = (*mux)->open();
  auto checker = std::make_unique<EchoChecker>(1 << 20, &finished, &ok);
  EchoChecker* rawChecker = checker.get();
  (*s)->setHandler(std::move(checker));
  rawChecker->pushData(**s);
  CHECK(runUntil(&loop, [&] { return finished; }));
  CHECK(ok);
  mux->reset();  // closing the master hangs up the slave: the server session ends
  CHECK(runUntil(&loop, [&] { return serverClosed; }));
}

TEST(YamuxBridge, StreamThePeerNeverClosesIsReapedAndItsClientClosed) {
  // The guest side: a session that accepts the stream, reads our FIN and never closes.
  auto [clientEnd, raw] = socketPair();
  fcntl(raw.get(), F_SETFL, O_NONBLOCK);
  SessionConfig sc;
  sc.role = Role::Server;
  Session guest(sc);
  auto pumpGuest = [&] {
    uint8_t buf[4096];
    ssize_t n;
    while ((n = read(raw.get(), buf, sizeof buf)) > 0) (void)guest.receive({buf, size_t(n)});
    while (guest.outputSize() > 0) {
      ssize_t w = write(raw.get(), guest.output().data(), guest.outputSize());
      if (w <= 0) break;
      guest.advanceOutput(size_t(w));
    }
  };
  MuxOptions o;
  o.halfCloseTimeoutMs = 100;
  auto mux = Mux::start(&loop, std::move(clientEnd), o, nullptr, [](const Error&) {});
  auto stream = (*mux)->open();
  uint32_t id = (*stream)->id();
  auto [app, bridged] = socketPair();
  CHECK(bridge(**stream, std::move(bridged)).ok());
  shutdown(app.get(), SHUT_WR);  // the client is done: FIN to the guest
  CHECK(runUntil(&loop, [&] {
    pumpGuest();
    return guest.remoteClosed(id) && guest.exists(id);
  }));
  uint64_t finAt = uv_now(&loop);
  fcntl(app.get(), F_SETFL, O_NONBLOCK);
  char c;
  CHECK(runUntil(
      &loop,
      [&] {
        pumpGuest();
        return (*mux)->streamCount() == 0 && read(app.get(), &c, 1) == 0;
      },
      2000));
  CHECK(uv_now(&loop) - finAt >= 50);  // not at once: after the 100 ms timeout
  CHECK(runUntil(&loop, [&] {
    pumpGuest();
    return !guest.exists(id);  // the guest got our RST
  }));
  mux->reset();
}

TEST(YamuxBridge, OptionsInspectEveryByteOnceAndBoundTheLifetime) {
  EchoServices services;
  auto [clientEnd, serverEnd] = socketPair();
  bool serverClosed = false;
  CHECK(serveMux(&loop, std::move(serverEnd), services.factory(), [&](const Error&) {
          serverClosed = true;
        }).ok());
  auto mux = Mux::start(&loop, std::move(clientEnd), MuxOptions{}, nullptr, [](const Error&) {});
  // The echo server sends back what the app wrote: the stream delivers it to the inspector,
  // which refuses the first '!' it sees.
  auto stream = (*mux)->open();
  auto [app, bridged] = socketPair();
  std::string seen;
  bool ended = false;
  BridgeOptions bo;
  bo.inspectFromStream = [&](std::span<const uint8_t> bytes) {
    seen.append(bytes.begin(), bytes.end());
    return seen.find('!') == std::string::npos;
  };
  bo.onClosed = [&] { ended = true; };
  CHECK(bridge(**stream, std::move(bridged), std::move(bo)).ok());
  const std::string fine = "all fine so far", bad = "then!more";
  CHECK(write(app.get(), fine.data(), fine.size()) == ssize_t(fine.size()));
  fcntl(app.get(), F_SETFL, O_NONBLOCK);
  std::string got;
  CHECK(runUntil(&loop, [&] {
    char buf[256];
    ssize_t n;
    while ((n = read(app.get(), buf, sizeof buf)) > 0) got.append(buf, n);
    return got.size() == fine.size();
  }));
  CHECK(fine == seen);  // each byte inspected once
  CHECK(write(app.get(), bad.data(), bad.size()) == ssize_t(bad.size()));
  CHECK(runUntil(&loop, [&] { return ended; }));
  STRCMP_EQUAL(fine.c_str(), got.c_str());  // nothing after the refusal reached the app
  // A stream that outlives maxLifetimeMs is reset, and its peer closed.
  auto second = (*mux)->open();
  auto [app2, bridged2] = socketPair();
  bool ended2 = false;
  BridgeOptions life;
  life.maxLifetimeMs = 100;
  life.onClosed = [&] { ended2 = true; };
  CHECK(bridge(**second, std::move(bridged2), std::move(life)).ok());
  CHECK(runUntil(
      &loop, [&] { return ended2; }, 5000));
  char c;
  LONGS_EQUAL(0, read(app2.get(), &c, 1));
  mux->reset();
  CHECK(runUntil(&loop, [&] { return serverClosed; }));
}
