// The DNS relay end to end in one process: the agent's side (agent/dns_relay.h) serving UDP and
// TCP on 127.0.0.1, a yamux session over a socketpair, and the proxy's side
// (proxy/dns_relay.h) connecting to a fake DNS server on a thread.
#include "proxy/dns_relay.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "agent/dns_relay.h"
#include "lib/dns_message.h"
#include "lib/yamux_bridge.h"

// CppUTest comes last: its leak-checking macros redefine operator new.
#include <CppUTest/TestHarness.h>

using namespace kata;

namespace {

std::vector<uint8_t> query(const std::string& label, uint16_t id) {
  std::vector<uint8_t> q = {uint8_t(id >> 8), uint8_t(id), 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  q.push_back(uint8_t(label.size()));
  q.insert(q.end(), label.begin(), label.end());
  q.insert(q.end(), {0, 0, 1, 0, 1});
  return q;
}

uint16_t portOf(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

bool readFull(int fd, uint8_t* buf, size_t n) {
  for (size_t got = 0; got < n;) {
    ssize_t r = ::read(fd, buf + got, n - got);
    if (r <= 0) return false;
    got += size_t(r);
  }
  return true;
}

// A DNS-over-TCP server: answers each query with the query, QR set, padded to 1000 bytes when
// its name is "big"; "slow" gets no answer.
class FakeServer {
 public:
  FakeServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 16);
    port = portOf(fd_);
    thread_ = std::thread([this] { run(); });
  }
  ~FakeServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  uint16_t port = 0;
  std::atomic<int> queries{0};

 private:
  void run() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      uint8_t len[2];
      while (readFull(c, len, 2)) {
        std::vector<uint8_t> msg(size_t(len[0]) << 8 | len[1]);
        if (!readFull(c, msg.data(), msg.size())) break;
        ++queries;
        if (msg.size() > 13 && std::string(msg.begin() + 13, msg.begin() + 17) == "slow") continue;
        msg[2] |= 0x80;
        if (msg.size() > 13 && std::string(msg.begin() + 13, msg.begin() + 16) == "big")
          msg.resize(1000, 0);
        uint8_t out[2] = {uint8_t(msg.size() >> 8), uint8_t(msg.size())};
        (void)!::write(c, out, 2);
        (void)!::write(c, msg.data(), msg.size());
      }
      ::close(c);
    }
  }
  int fd_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// UDP exchange with a 10 s timeout; the answer, or empty.
std::vector<uint8_t> askUdp(uint16_t port, const std::vector<uint8_t>& q) {
  UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  timeval tv{10, 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::sendto(fd.get(), q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
  std::vector<uint8_t> buf(65536);
  ssize_t n = ::recv(fd.get(), buf.data(), buf.size(), 0);
  buf.resize(n > 0 ? size_t(n) : 0);
  return buf;
}

// TCP exchange: sends `bytes`, returns the first framed answer (empty on EOF/timeout).
std::vector<uint8_t> askTcp(uint16_t port, const std::vector<uint8_t>& bytes) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  timeval tv{10, 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return {};
  (void)!::write(fd.get(), bytes.data(), bytes.size());
  uint8_t len[2];
  if (!readFull(fd.get(), len, 2)) return {};
  std::vector<uint8_t> msg(size_t(len[0]) << 8 | len[1]);
  if (!readFull(fd.get(), msg.data(), msg.size())) return {};
  return msg;
}

std::vector<uint8_t> framed(const std::vector<uint8_t>& q) {
  std::vector<uint8_t> f = {uint8_t(q.size() >> 8), uint8_t(q.size())};
  f.insert(f.end(), q.begin(), q.end());
  return f;
}

}  // namespace

TEST_GROUP(DnsRelay) {
  uv_loop_t loop;
  void setup() override { uv_loop_init(&loop); }
  void teardown() override {
    for (int i = 0; i < 10; ++i) uv_run(&loop, UV_RUN_NOWAIT);
    CHECK_EQUAL(0, uv_loop_close(&loop));
  }

  // Runs the loop until `done` (set by a client thread) or 20 s.
  void runUntil(std::atomic<bool> & done) {
    uv::Timer tick;
    (void)tick.init(&loop, [] {});
    tick.start(10, 10);
    const uint64_t deadline = uv_now(&loop) + 20000;
    while (!done && uv_now(&loop) < deadline) uv_run(&loop, UV_RUN_ONCE);
    tick.reset();
  }
};

TEST(DnsRelay, UdpAndTcpQueriesReachTheServerAndComeBack) {
  FakeServer server;
  int sv[2];
  CHECK_EQUAL(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  // The proxy's side: the yamux client, every agent-opened stream to the relay.
  proxy::DnsRelay hostSide("127.0.0.1", server.port);
  yamux::MuxOptions mo;
  mo.session.role = yamux::Role::Client;
  auto proxyMux = yamux::Mux::start(
      &loop, UniqueFd(sv[0]), mo, [&](yamux::Stream& s) { hostSide.serve(s); }, nullptr);
  CHECK(proxyMux.ok());
  // The agent's side: the yamux server (no gRPC here) and the relay on 127.0.0.1.
  auto served = yamux::serveMux(
      &loop, UniqueFd(sv[1]), []() -> Result<UniqueFd> { return makeError("no gRPC here"); },
      nullptr);
  CHECK(served.ok());
  auto sockets = agent::DnsRelay::bind("127.0.0.1", 0);
  CHECK(sockets.ok());
  const uint16_t udpPort = portOf(sockets->udp.get()), tcpPort = portOf(sockets->tcp.get());
  auto guestSide =
      agent::DnsRelay::start(&loop, std::move(sockets).value(), [&]() -> Result<yamux::Stream*> {
        if (!served->mux()) return makeError("no session");
        return served->mux()->open();
      });
  CHECK(guestSide.ok());

  std::atomic<bool> done{false};
  std::vector<uint8_t> small, big, tcpBig, slow, oversized;
  std::thread client([&] {
    small = askUdp(udpPort, query("web", 0x1111));
    big = askUdp(udpPort, query("big", 0x2222));
    tcpBig = askTcp(tcpPort, framed(query("big", 0x3333)));
    std::vector<uint8_t> huge = {0x13, 0x88};  // a 5000-byte query: the proxy cuts it off
    huge.resize(5002, 0);
    oversized = askTcp(tcpPort, huge);
    slow = askUdp(udpPort, query("slow", 0x4444));
    done = true;
  });
  runUntil(done);
  client.join();

  CHECK_EQUAL(query("web", 0).size(), small.size());
  CHECK_EQUAL(0x11, small[0]);
  CHECK(small[2] & 0x80);
  // 1000 bytes do not fit a classic UDP answer: truncated, so the client asks over TCP.
  CHECK(!big.empty() && big.size() <= dns::kClassicUdpSize);
  CHECK(big[2] & 0x02);
  CHECK_EQUAL(1000u, tcpBig.size());
  CHECK_EQUAL(0x33, tcpBig[0]);
  CHECK(oversized.empty());
  // No answer within the relay's timeout: SERVFAIL rather than silence.
  CHECK_EQUAL(query("slow", 0).size(), slow.size());
  CHECK_EQUAL(2, slow[3] & 0x0f);
  CHECK_EQUAL(4, server.queries.load());  // the oversized query never reached the server
  // The last stream's reset (the agent gave up on "slow") reaches the proxy's side soon after.
  std::atomic<bool> idle{false};
  uv::Timer poll;
  (void)poll.init(&loop, [&] { idle = hostSide.active() == 0; });
  poll.start(0, 10);
  runUntil(idle);
  poll.reset();
  CHECK_EQUAL(0u, hostSide.active());

  guestSide->reset();
  (*proxyMux)->shutdown();
  for (int i = 0; i < 20; ++i) uv_run(&loop, UV_RUN_NOWAIT);
  proxyMux->reset();
}

TEST(DnsRelay, NoServerMeansServfail) {
  int sv[2];
  CHECK_EQUAL(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  proxy::DnsRelay hostSide("127.0.0.1", 1);  // nothing listens on port 1
  yamux::MuxOptions mo;
  mo.session.role = yamux::Role::Client;
  auto proxyMux = yamux::Mux::start(
      &loop, UniqueFd(sv[0]), mo, [&](yamux::Stream& s) { hostSide.serve(s); }, nullptr);
  auto served = yamux::serveMux(
      &loop, UniqueFd(sv[1]), []() -> Result<UniqueFd> { return makeError("no gRPC here"); },
      nullptr);
  auto sockets = agent::DnsRelay::bind("127.0.0.1", 0);
  CHECK(sockets.ok());
  const uint16_t udpPort = portOf(sockets->udp.get());
  auto guestSide =
      agent::DnsRelay::start(&loop, std::move(sockets).value(), [&]() -> Result<yamux::Stream*> {
        if (!served->mux()) return makeError("no session");
        return served->mux()->open();
      });
  std::atomic<bool> done{false};
  std::vector<uint8_t> answer;
  std::thread client([&] {
    answer = askUdp(udpPort, query("web", 0x5555));
    done = true;
  });
  runUntil(done);
  client.join();
  CHECK_EQUAL(query("web", 0).size(), answer.size());
  CHECK_EQUAL(2, answer[3] & 0x0f);
  guestSide->reset();
  (*proxyMux)->shutdown();
  for (int i = 0; i < 20; ++i) uv_run(&loop, UV_RUN_NOWAIT);
  proxyMux->reset();
}
