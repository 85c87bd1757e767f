// Client of the guest agent's gRPC API. Every connection goes through kata-proxy's unix socket
// (one yamux stream per gRPC connection) or, with vsock, straight to the agent. Replies are
// hostile input: callers validate what they use.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "lib/result.h"
#include "protocols/agent.grpc.pb.h"
#include "protocols/health.grpc.pb.h"

namespace kata::vc {

/// Default deadline for one agent request; long-running ones (WaitProcess) pass their own.
inline constexpr int kAgentCallTimeoutMs = 60000;

class AgentClient {
 public:
  /// `url` is "unix:///path/proxy.sock" (or "unix:/path"); no I/O happens until the first call.
  static Result<AgentClient> create(const std::string& url);

  /// Polls Health.Check until the agent answers SERVING or `timeoutMs` runs out.
  kata::Status waitReady(int timeoutMs);

  /// Calls one AgentService method with a deadline; gRPC errors become Errors naming `what`.
  template <class Req, class Resp>
  Result<Resp> call(const char* what,
                    ::grpc::Status (::grpc::AgentService::Stub::*method)(::grpc::ClientContext*,
                                                                        const Req&, Resp*),
                    const Req& request, int timeoutMs = kAgentCallTimeoutMs) {
    ::grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeoutMs));
    // A connection being (re)established through the proxy is not a failure: wait for it
    // until the deadline instead of failing fast.
    ctx.set_wait_for_ready(true);
    Resp response;
    ::grpc::Status s = ((*agent_).*method)(&ctx, request, &response);
    if (!s.ok()) return rpcError(what, s);
    return response;
  }

  /// The agent's version string (Health.Version).
  Result<std::string> version(int timeoutMs = 5000);

 private:
  static Error rpcError(const char* what, const ::grpc::Status& s);

  std::shared_ptr<::grpc::Channel> channel_;
  std::unique_ptr<::grpc::AgentService::Stub> agent_;
  std::unique_ptr<::grpc::Health::Stub> health_;
};

}  // namespace kata::vc
