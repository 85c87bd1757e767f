#include "agent/dns_relay.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <vector>

#include "lib/dns_message.h"
#include "lib/log.h"
#include "lib/yamux_bridge.h"

namespace kata::agent {

struct DnsRelay::Shared {
  UniqueFd udp;
  size_t udpPending = 0;
  size_t tcpActive = 0;

  void reply(const sockaddr_storage& to, socklen_t toLen, std::span<const uint8_t> msg) const {
    // Best effort, as UDP is: a client that went away loses its answer.
    (void)::sendto(udp.get(), msg.data(), msg.size(), MSG_DONTWAIT | MSG_NOSIGNAL,
                   reinterpret_cast<const sockaddr*>(&to), toLen);
  }
};

namespace {

// One UDP query on its own stream: sends it framed, reads one framed answer, replies to the
// client (SERVFAIL when no answer comes), and resets the stream.
class UdpQuery : public yamux::StreamHandler {
 public:
  UdpQuery(std::shared_ptr<DnsRelay::Shared> shared, std::vector<uint8_t> query,
           const sockaddr_storage& client, socklen_t clientLen)
      : shared_(std::move(shared)), client_(client), clientLen_(clientLen) {
    query_.reserve(query.size() + 2);
    query_.push_back(uint8_t(query.size() >> 8));
    query_.push_back(uint8_t(query.size()));
    query_.insert(query_.end(), query.begin(), query.end());
  }

  Status start(yamux::Stream& stream) {
    KATA_TRY(timer_.init(stream.mux().loop(), [&stream] { stream.reset(); }));
    timer_.start(DnsRelay::kQueryTimeoutMs);
    send(stream);
    return okStatus();
  }

  void onWritable(yamux::Stream& stream) override { send(stream); }

  void onReadable(yamux::Stream& stream) override {
    for (auto chunk = stream.peek(); !chunk.empty() && !answered_; chunk = stream.peek()) {
      if (answer_.size() >= 2 && answerLength() < dns::kHeaderSize) break;  // not an answer
      const size_t want = answer_.size() < 2 ? 2 : 2 + answerLength();
      const size_t take = std::min(chunk.size(), want - answer_.size());
      answer_.insert(answer_.end(), chunk.begin(), chunk.begin() + long(take));
      stream.consume(take);
      if (answer_.size() > 2 && answer_.size() == want) answerClient();
    }
    const bool bogus = answer_.size() >= 2 && answerLength() < dns::kHeaderSize;
    if (answered_ || bogus || stream.atEof()) stream.reset();  // onClosed answers if need be
  }

  void onClosed(yamux::Stream&, const Error&) override {
    timer_.reset();
    if (!answered_) shared_->reply(client_, clientLen_, dns::serverFailure(question()));
    answered_ = true;
    --shared_->udpPending;
  }

 private:
  std::span<const uint8_t> question() const { return std::span(query_).subspan(2); }
  size_t answerLength() const { return size_t(answer_[0]) << 8 | answer_[1]; }

  void send(yamux::Stream& stream) {
    if (sent_ >= query_.size()) return;
    auto n = stream.write(std::span(query_).subspan(sent_, query_.size() - sent_));
    if (!n.ok()) {
      stream.reset();
      return;
    }
    sent_ += *n;
  }

  void answerClient() {
    answered_ = true;
    std::span<const uint8_t> answer = std::span(answer_).subspan(2);
    if (answer.size() > dns::udpAnswerLimit(question())) {
      shared_->reply(client_, clientLen_, dns::truncatedAnswer(question(), answer));
    } else {
      shared_->reply(client_, clientLen_, answer);
    }
  }

  std::shared_ptr<DnsRelay::Shared> shared_;
  sockaddr_storage client_;
  socklen_t clientLen_;
  std::vector<uint8_t> query_;  // framed
  size_t sent_ = 0;
  std::vector<uint8_t> answer_;  // framed, at most 2 + 65535 bytes
  bool answered_ = false;
  uv::Timer timer_;
};

Result<UniqueFd> bound(int type, const sockaddr_in& addr) {
  UniqueFd fd(::socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return sysError("socket");
  int one = 1;
  (void)::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
    return sysError("bind");
  if (type == SOCK_STREAM && ::listen(fd.get(), 64) != 0) return sysError("listen");
  return fd;
}

}  // namespace

Result<DnsRelay::Sockets> DnsRelay::bind(const std::string& address, uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, address.c_str(), &addr.sin_addr) != 1)
    return makeError("DNS relay: invalid address " + address, EINVAL);
  const std::string where = address + ":" + std::to_string(port);
  auto udp = bound(SOCK_DGRAM, addr);
  if (!udp.ok()) return std::move(udp).error().wrap("DNS relay on udp " + where);
  auto tcp = bound(SOCK_STREAM, addr);
  if (!tcp.ok()) return std::move(tcp).error().wrap("DNS relay on tcp " + where);
  return Sockets{std::move(udp).value(), std::move(tcp).value()};
}

DnsRelay::DnsRelay(uv_loop_t* loop, OpenStream open)
    : loop_(loop), open_(std::move(open)), shared_(std::make_shared<Shared>()) {}

DnsRelay::~DnsRelay() {
  udpPoll_.reset();
  tcpPoll_.reset();
}

Result<std::unique_ptr<DnsRelay>> DnsRelay::start(uv_loop_t* loop, Sockets sockets,
                                                  OpenStream open) {
  std::unique_ptr<DnsRelay> r(new DnsRelay(loop, std::move(open)));
  r->shared_->udp = std::move(sockets.udp);
  r->tcp_ = std::move(sockets.tcp);
  DnsRelay* self = r.get();
  KATA_TRY(
      r->udpPoll_.init(loop, r->shared_->udp.get(), [self](int, int) { self->onUdpReadable(); }));
  KATA_TRY(r->tcpPoll_.init(loop, r->tcp_.get(), [self](int, int) { self->onTcpAcceptable(); }));
  r->udpPoll_.want(UV_READABLE);
  r->tcpPoll_.want(UV_READABLE);
  return r;
}

void DnsRelay::onUdpReadable() {
  // A bounded batch per wake-up, so that a flood cannot starve the agent channel.
  for (int i = 0; i < 64; ++i) {
    uint8_t buf[dns::kMaxQuery + 1];
    sockaddr_storage from{};
    socklen_t fromLen = sizeof from;
    const ssize_t n = ::recvfrom(shared_->udp.get(), buf, sizeof buf, MSG_TRUNC,
                                 reinterpret_cast<sockaddr*>(&from), &fromLen);
    if (n < 0) return;  // EAGAIN: drained
    std::span<const uint8_t> query(buf, std::min(size_t(n), sizeof buf));
    if (size_t(n) > dns::kMaxQuery || !dns::isQuery(query)) continue;  // not a query: dropped
    if (shared_->udpPending >= kMaxUdpPending) {
      shared_->reply(from, fromLen, dns::serverFailure(query));
      continue;
    }
    auto stream = open_();
    if (!stream.ok()) {
      shared_->reply(from, fromLen, dns::serverFailure(query));
      continue;
    }
    auto handler = std::make_unique<UdpQuery>(
        shared_, std::vector<uint8_t>(query.begin(), query.end()), from, fromLen);
    UdpQuery* raw = handler.get();
    ++shared_->udpPending;
    (*stream)->setHandler(std::move(handler));  // its onClosed answers and counts down
    if (Status st = raw->start(**stream); !st.ok()) (*stream)->reset();
  }
}

void DnsRelay::onTcpAcceptable() {
  for (int i = 0; i < 16; ++i) {
    UniqueFd conn(::accept4(tcp_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!conn) return;
    if (shared_->tcpActive >= kMaxTcp) continue;  // closed: the client retries or fails
    auto stream = open_();
    if (!stream.ok()) continue;
    yamux::BridgeOptions bo;
    bo.maxLifetimeMs = kTcpLifetimeMs;
    bo.onClosed = [shared = shared_] { --shared->tcpActive; };
    ++shared_->tcpActive;
    if (Status st = yamux::bridge(**stream, std::move(conn), std::move(bo)); !st.ok()) {
      --shared_->tcpActive;
      log::debug("DNS relay: TCP connection not relayed", {{"error", st.error().str()}});
    }
  }
}

}  // namespace kata::agent
