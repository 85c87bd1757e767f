// Client of the guest agent's gRPC API. Every connection goes through kata-proxy's unix socket
// (one yamux stream per gRPC connection) or, with vsock, straight to the agent. Replies are
// hostile input: each call has a deadline, its connection is relayed through a guard that cuts
// any reply above kMaxAgentReplyBytes before gRPC buffers it (lib/grpc_reply_guard.h), and the
// error of a failed call names the call and keeps at most 512 bytes of the guest's text.
// Callers validate what they use.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "lib/grpc_reply_guard.h"
#include "lib/result.h"
#include "protocols/agent.grpc.pb.h"
#include "protocols/health.grpc.pb.h"

namespace kata::vc {

/// Default deadline for one agent request; long-running ones (WaitProcess) pass their own.
inline constexpr int kAgentCallTimeoutMs = 60000;
/// Largest reply accepted (a `ps` table or the statistics are the largest legitimate ones).
inline constexpr uint32_t kMaxAgentReplyBytes = 16 << 20;

class AgentClient {
 public:
  /// `url` is "unix:///path/proxy.sock" (or "unix:/path"); no I/O happens until the first call.
  static Result<AgentClient> create(const std::string& url);

  /// Polls Health.Check until the agent answers SERVING or `timeoutMs` runs out.
  kata::Status waitReady(int timeoutMs);

  /// Calls one AgentService method on a connection of its own, within `timeoutMs` (connecting
  /// included: a proxy socket not there yet is retried until then). gRPC errors become Errors
  /// naming `what`.
  template <class Req, class Resp>
  Result<Resp> call(const char* what,
                    ::grpc::Status (::grpc::AgentService::Stub::*method)(::grpc::ClientContext*,
                                                                         const Req&, Resp*),
                    const Req& request, int timeoutMs = kAgentCallTimeoutMs) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeoutMs);
    KATA_ASSIGN_OR_RETURN(Link link, connect(what, deadline, true));
    ::grpc::ClientContext ctx;
    ctx.set_deadline(systemTime(deadline));
    Resp response;
    auto stub = ::grpc::AgentService::NewStub(link.channel);
    ::grpc::Status s = ((*stub).*method)(&ctx, request, &response);
    if (!s.ok()) return rpcError(what, s, link, timeoutMs, Resp::descriptor()->full_name());
    return response;
  }

  /// The agent's version string (Health.Version).
  Result<std::string> version(int timeoutMs = 5000);

 private:
  using Clock = std::chrono::steady_clock;
  // One guarded connection: gRPC's channel over the guard's relay. The channel goes first.
  struct Link {
    std::unique_ptr<grpcguard::GuardedConnection> guard;
    std::shared_ptr<::grpc::Channel> channel;
  };

  static std::chrono::system_clock::time_point systemTime(Clock::time_point t);
  /// Connects to the agent's socket; with `retry`, a socket that is missing or refuses is
  /// tried again until `deadline`.
  Result<Link> connect(const char* what, Clock::time_point deadline, bool retry) const;
  static Error rpcError(const char* what, const ::grpc::Status& s, const Link& link, int timeoutMs,
                        const std::string& replyType);

  std::string socketPath_;
};

}  // namespace kata::vc
