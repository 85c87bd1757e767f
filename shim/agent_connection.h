// kata-shim's one gRPC connection to the agent, re-dialled when it breaks (kata-proxy may
// restart). The connection runs over a stream socket the shim dials itself, because gRPC has
// no vsock support and so that unix and vsock take the same path.
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

#include "lib/grpc_reply_guard.h"
#include "lib/result.h"
#include "lib/unique_fd.h"
#include "protocols/agent.grpc.pb.h"

namespace kata::shim {

/// Opens a new connected stream socket to the agent.
using Dialer = std::function<Result<UniqueFd>()>;

/// Largest agent reply accepted: replies are hostile input, and the biggest legitimate one is a
/// ReadStdout/ReadStderr chunk of the size the shim asks for (ShimConfig::readSize, 1 MiB)
/// plus its framing. Enforced before gRPC buffers a reply: every connection is relayed through
/// a guard (lib/grpc_reply_guard.h) that cuts it at a larger one.
inline constexpr int kMaxAgentReplyBytes = 2 << 20;

class AgentConnection {
 public:
  struct Handle {
    std::shared_ptr<::grpc::AgentService::Stub> stub;
    uint64_t generation = 0;  // identifies the connection, for markBroken()
    /// The connection's relay (it says why it cut a lying agent off); the handle keeps it, and
    /// the stub's channel through it, alive.
    std::shared_ptr<const grpcguard::GuardedConnection> guard;
  };

  explicit AgentConnection(Dialer dialer) : dialer_(std::move(dialer)) {}

  /// The current connection, dialling a new one when there is none. Thread-safe.
  Result<Handle> get();
  /// Forgets connection `generation` (when it is still the current one) after a call on it
  /// failed with UNAVAILABLE, so that the next get() dials again.
  void markBroken(uint64_t generation);

 private:
  Dialer dialer_;
  std::mutex mu_;
  std::shared_ptr<::grpc::AgentService::Stub> stub_;
  std::shared_ptr<grpcguard::GuardedConnection> guard_;
  uint64_t generation_ = 0;
};

}  // namespace kata::shim
