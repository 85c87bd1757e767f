// Pumping a yamux stream to and from a local socket, and the server-side entry point built on
// it. Both ends of Kata's agent channel use these: kata-proxy (client) bridges each accepted
// unix connection to a new stream; kata-agent (server) bridges each accepted stream to one end
// of a socketpair whose other end is a gRPC connection.
//
// Agent-side usage (virtio-serial port, one gRPC connection per stream):
//
//   auto port = openVirtioPort("/dev/vport0p1");           // O_RDWR|O_NONBLOCK|O_CLOEXEC
//   auto served = kata::yamux::serveMux(
//       loop, std::move(port),
//       [&]() -> kata::Result<kata::UniqueFd> {            // one per accepted stream
//         int sv[2];
//         if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
//           return kata::sysError("socketpair");
//         grpc::AddInsecureChannelFromFd(server.get(), sv[0]);  // gRPC owns sv[0]
//         return kata::UniqueFd(sv[1]);                    // bridged to the stream
//       },
//       [&](const kata::Error& why) { /* host side gone: re-open the port, serve again */ });
//
// The callbacks run on `loop`'s thread. The session frees itself after onClose returns.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <span>

#include "lib/result.h"
#include "lib/unique_fd.h"
#include "lib/yamux_mux.h"

namespace kata::yamux {

/// Pumps bytes both ways between `stream` and `peer` (a stream socket; made non-blocking)
/// until both directions are closed, with backpressure:
///  * peer -> stream: the peer is read only while the stream's send window is open (and the
///    connection is not backlogged); EOF from the peer sends FIN.
///  * stream -> peer: window is granted to the remote only once bytes were written to the
///    peer; the remote's FIN, once drained, becomes shutdown(SHUT_WR) on the peer.
///  * an error on either side resets the stream and closes the peer; a stream reset or a
///    session end closes the peer.
/// Takes ownership of `peer` even on failure (the stream is then reset).
struct BridgeOptions {
  /// Sees every byte the stream delivers, once and in order, before it goes to the peer;
  /// returning false resets the stream (a relay's check on what a guest sends).
  std::function<bool(std::span<const uint8_t>)> inspectFromStream;
  /// The stream is reset this long after the bridge started (0: never).
  uint64_t maxLifetimeMs = 0;
  /// Runs once when a bridge that started (bridge() returned ok) ends: the stream closed or
  /// reset, or the session ended.
  std::function<void()> onClosed;
};
Status bridge(Stream& stream, UniqueFd peer, BridgeOptions options = {});

/// Options for serveMux: server role, no pings of our own, no write timeout.
MuxOptions serverOptions();

/// A session started by serveMux, as seen by its owner: lets the owner end it early.
class ServedSession {
 public:
  ServedSession() = default;
  /// On the loop's thread: resets the streams, sends go-away and closes the connection; the
  /// session's onClose follows and then it frees itself. Nothing when it already ended.
  void shutdown(const Error& reason) const;
  /// The session's Mux while it runs (loop thread only), else nullptr.
  Mux* mux() const;

 private:
  friend Result<ServedSession> serveMux(uv_loop_t*, UniqueFd, std::function<Result<UniqueFd>()>,
                                        std::function<void(const Error&)>, MuxOptions);
  std::weak_ptr<std::unique_ptr<Mux>> mux_;
};

/// Serves yamux as the server on `muxFd` (virtio-serial port or socket): each stream the
/// client opens is bridged to the fd returned by `newPeer` (stream reset when it fails). When
/// the session ends (EOF/POLLHUP: the host side went away; a protocol error; a go-away;
/// ServedSession::shutdown), `onClose(reason)` runs once and the session frees itself.
Result<ServedSession> serveMux(uv_loop_t* loop, UniqueFd muxFd,
                               std::function<Result<UniqueFd>()> newPeer,
                               std::function<void(const Error&)> onClose,
                               MuxOptions options = serverOptions());

}  // namespace kata::yamux
