#include "lib/yamux_bridge.h"

#include <sys/socket.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "lib/log.h"
#include "lib/uv_fd.h"

namespace kata::yamux {
namespace {

constexpr size_t kPeerChunk = 64 * 1024;

class PeerBridge : public StreamHandler {
 public:
  PeerBridge(Stream& stream, UniqueFd peer, BridgeOptions options)
      : stream_(stream),
        peer_(std::move(peer)),
        peerIsSocket_(uv::isSocket(peer_.get())),
        options_(std::move(options)) {}

  Status start() {
    KATA_TRY(poll_.init(stream_.mux().loop(), peer_.get(),
                        [this](int status, int events) { onPoll(status, events); }));
    if (options_.maxLifetimeMs > 0) {
      KATA_TRY(lifetime_.init(stream_.mux().loop(), [this] { fail("lifetime over"); }));
      lifetime_.start(options_.maxLifetimeMs);
    }
    return okStatus();
  }

  void onReadable(Stream&) override {
    drainToPeer();
    update();
  }
  void onWritable(Stream&) override { update(); }
  void onClosed(Stream&, const Error&) override {
    closed_ = true;
    poll_.reset();  // stop watching before the fd goes
    lifetime_.reset();
    peer_.reset();
    if (auto done = std::exchange(options_.onClosed, nullptr)) done();
  }

  void update() {
    if (closed_) return;
    int events = 0;
    if (!peerEof_ && stream_.writable() > 0) events |= UV_READABLE;
    if (writeBlocked_) events |= UV_WRITABLE;
    poll_.want(events);
  }

 private:
  void onPoll(int status, int events) {
    if (closed_) return;
    if (status < 0) {
      fail("peer socket error");
      return;
    }
    if (events & UV_WRITABLE) {
      writeBlocked_ = false;
      drainToPeer();
    }
    if (!closed_ && (events & UV_READABLE)) readFromPeer();
    update();
  }

  void readFromPeer() {
    size_t room = std::min(stream_.writable(), kPeerChunk);
    if (room == 0 || peerEof_) return;
    uint8_t buf[kPeerChunk];
    ssize_t n = uv::readSome(peer_.get(), {buf, room});
    if (n == -EAGAIN) return;
    if (n < 0) {
      fail("read from peer failed");
      return;
    }
    if (n == 0) {
      peerEof_ = true;
      (void)stream_.closeWrite();  // may close the stream when the remote already sent FIN
      return;
    }
    auto sent = stream_.write({buf, static_cast<size_t>(n)});
    // write() takes all of it: n <= writable(), and nothing else ran in between.
    if (!sent.ok() || *sent != static_cast<size_t>(n)) fail("stream write failed");
  }

  void drainToPeer() {
    while (!closed_ && !writeBlocked_) {
      std::span<const uint8_t> chunk = stream_.peek();
      if (chunk.empty()) break;
      // peek() shows the oldest chunk, which may have grown since it was last inspected.
      if (options_.inspectFromStream && inspected_ < chunk.size()) {
        if (!options_.inspectFromStream(chunk.subspan(inspected_))) {
          fail("refused by the inspector");
          return;
        }
        inspected_ = chunk.size();
      }
      ssize_t n = uv::writeSome(peer_.get(), peerIsSocket_, chunk);
      if (n == 0) {
        writeBlocked_ = true;
        return;
      }
      if (n < 0) {
        fail("write to peer failed");
        return;
      }
      inspected_ -= std::min(inspected_, static_cast<size_t>(n));
      stream_.consume(static_cast<size_t>(n));  // grants window only for delivered bytes
    }
    if (!closed_ && !peerWriteShut_ && stream_.atEof()) {
      peerWriteShut_ = true;
      if (peerIsSocket_) ::shutdown(peer_.get(), SHUT_WR);  // the remote's FIN, passed on
    }
  }

  void fail(const char* what) {
    log::debug("yamux bridge closed", {{"stream", std::to_string(stream_.id())},
                                       {"reason", what},
                                       {"errno", std::to_string(errno)}});
    stream_.reset();  // onClosed follows synchronously and closes the peer
  }

  Stream& stream_;
  UniqueFd peer_;
  bool peerIsSocket_;
  uv::Poll poll_;
  BridgeOptions options_;
  uv::Timer lifetime_;
  size_t inspected_ = 0;  // bytes at the front of peek() that inspectFromStream has seen
  bool closed_ = false;
  bool peerEof_ = false;
  bool peerWriteShut_ = false;
  bool writeBlocked_ = false;
};

}  // namespace

Status bridge(Stream& stream, UniqueFd peer, BridgeOptions options) {
  if (stream.closed()) return makeError("bridge: yamux stream is closed", EPIPE);
  if (!peer.valid()) {
    stream.reset();
    return makeError("bridge: invalid peer fd", EBADF);
  }
  auto handler = std::make_unique<PeerBridge>(stream, std::move(peer), std::move(options));
  Status st = handler->start();
  if (!st.ok()) {
    stream.reset();
    return std::move(st).error().wrap("bridge stream " + std::to_string(stream.id()));
  }
  PeerBridge* raw = handler.get();
  stream.setHandler(std::move(handler));
  // Data may have arrived before the handler was attached (e.g. with the SYN).
  raw->onReadable(stream);
  return okStatus();
}

MuxOptions serverOptions() {
  MuxOptions o;
  o.session.role = Role::Server;
  o.logName = "yamux-server";
  return o;
}

void ServedSession::shutdown(const Error& reason) const {
  auto holder = mux_.lock();
  if (holder && *holder && !(*holder)->closed()) (*holder)->shutdown(reason);
}

Mux* ServedSession::mux() const {
  auto holder = mux_.lock();
  return holder && *holder && !(*holder)->closed() ? holder->get() : nullptr;
}

Result<ServedSession> serveMux(uv_loop_t* loop, UniqueFd muxFd,
                               std::function<Result<UniqueFd>()> newPeer,
                               std::function<void(const Error&)> onClose, MuxOptions options) {
  // The session owns itself: it is freed right after onClose, from the Mux's own deferred
  // callback, which allows destroying the Mux.
  auto holder = std::make_shared<std::unique_ptr<Mux>>();
  auto accept = [newPeer = std::move(newPeer)](Stream& stream) {
    auto peer = newPeer();
    if (!peer) {
      log::warn("cannot serve yamux stream",
                {{"stream", std::to_string(stream.id())}, {"error", peer.error().str()}});
      stream.reset();
      return;
    }
    Status st = bridge(stream, std::move(peer).value());
    if (!st.ok()) log::warn("cannot bridge yamux stream", {{"error", st.error().str()}});
  };
  auto close = [holder, onClose = std::move(onClose)](const Error& reason) {
    std::unique_ptr<Mux> self = std::move(*holder);
    auto cb = onClose;
    self.reset();
    if (cb) cb(reason);
  };
  KATA_ASSIGN_OR_RETURN(*holder, Mux::start(loop, std::move(muxFd), std::move(options),
                                            std::move(accept), std::move(close)));
  ServedSession served;
  served.mux_ = holder;
  return served;
}

}  // namespace kata::yamux
