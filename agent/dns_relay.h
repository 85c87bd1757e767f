// The guest side of the DNS relay (design: docs/architecture.md, "Name resolution"). Docker
// tells a container on a user-defined network to ask 127.0.0.11:53, its embedded server, which
// listens in the sandbox's network namespace on the host, out of the guest's reach. The agent
// answers at that address in the guest (UDP and TCP) and carries each query to kata-proxy over
// a yamux stream it opens on the agent channel: DNS over TCP (RFC 7766 framing), which the
// proxy connects to Docker's server. A UDP query becomes one framed query on a fresh stream;
// an answer bigger than the client takes over UDP comes back truncated (TC) so that it asks
// again over TCP; a TCP connection is bridged to its stream as it is.
//
// Bounds (the containers are untrusted too, and the agent is PID 1): kMaxUdpPending UDP
// queries in flight (more get SERVFAIL at once), each answered within kQueryTimeoutMs (else
// SERVFAIL), kMaxTcp TCP connections (more are closed), each at most kTcpLifetimeMs; queries
// above dns::kMaxQuery bytes are dropped. Everything runs on the agent channel's loop thread.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include "lib/result.h"
#include "lib/unique_fd.h"
#include "lib/uv_handle.h"
#include "lib/yamux_mux.h"

namespace kata::agent {

class DnsRelay {
 public:
  static constexpr size_t kMaxUdpPending = 64;
  static constexpr uint64_t kQueryTimeoutMs = 5000;
  static constexpr size_t kMaxTcp = 16;
  static constexpr uint64_t kTcpLifetimeMs = 20000;

  /// Opens a stream to the host on the current agent channel session, or fails (no session).
  using OpenStream = std::function<Result<yamux::Stream*>()>;

  /// The relay's sockets, bound and listening: made on any thread (so that queries sent before
  /// the relay runs wait in the kernel), served on the loop's.
  struct Sockets {
    UniqueFd udp;
    UniqueFd tcp;
  };
  /// Binds UDP and TCP `address`:`port` (IPv4).
  static Result<Sockets> bind(const std::string& address, uint16_t port);

  /// Serves `sockets` on `loop` (its thread only) until destroyed.
  static Result<std::unique_ptr<DnsRelay>> start(uv_loop_t* loop, Sockets sockets, OpenStream open);
  ~DnsRelay();

  /// What the relay shares with its queries in flight (defined in the .cc).
  struct Shared;

 private:
  DnsRelay(uv_loop_t* loop, OpenStream open);
  void onUdpReadable();
  void onTcpAcceptable();

  uv_loop_t* loop_;
  OpenStream open_;
  std::shared_ptr<Shared> shared_;  // with the query handlers, which may outlive the relay
  UniqueFd tcp_;
  uv::Poll udpPoll_;
  uv::Poll tcpPoll_;
};

}  // namespace kata::agent
