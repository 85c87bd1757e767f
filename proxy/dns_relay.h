// The host side of the guest's DNS relay (design: docs/architecture.md, "Name resolution"):
// every yamux stream the agent opens carries one DNS-over-TCP connection, which kata-proxy
// connects to Docker's embedded server at 127.0.0.11:53 (TCP) in the sandbox's network
// namespace, where the proxy runs, and pumps both ways. The guest chooses nothing but the
// bytes: the destination is fixed. Bounds (docs/security.md): kMaxStreams at once (more are
// reset), each at most kStreamLifetimeMs, every query framed and at most dns::kMaxQuery bytes
// (else reset), memory per stream the yamux window.
#pragma once

#include <memory>
#include <string>

#include "lib/dns_message.h"
#include "lib/result.h"
#include "lib/unique_fd.h"
#include "lib/yamux_mux.h"

namespace kata::proxy {

class DnsRelay {
 public:
  static constexpr size_t kMaxStreams = 16;
  static constexpr uint64_t kStreamLifetimeMs = 20000;

  /// The server is Docker's, 127.0.0.11:53; tests give another (IPv4).
  explicit DnsRelay(std::string address = dns::kDockerDnsAddress, uint16_t port = dns::kDnsPort)
      : address_(std::move(address)), port_(port) {}

  /// Serves one stream the agent opened: connects to the server over TCP (in the calling
  /// thread's network namespace) and bridges, or resets the stream.
  void serve(yamux::Stream& stream);

  size_t active() const { return *active_; }

 private:
  std::string address_;
  uint16_t port_;
  std::shared_ptr<size_t> active_ = std::make_shared<size_t>(0);  // outlives the relay
};

/// Opens the sandbox's network namespace at `path`; the host's (init's) is refused, since what
/// is done there (`purpose`, named in the error) would act on the host's own loopback.
Result<UniqueFd> openSandboxNetns(const std::string& path, const std::string& purpose);

/// Moves the calling process (single-threaded: the proxy before its loop starts) into the
/// network namespace at `path` (openSandboxNetns: the host's is refused).
Status enterNetns(const std::string& path);

}  // namespace kata::proxy
