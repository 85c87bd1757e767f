// The agent's gRPC server: the AgentService and Health services (and our ForwardService), served on
// unix sockets (host test mode) and on connections handed over as fds (one per yamux stream or
// vsock connection).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/agent_service.h"
#include "agent/forward_service.h"
#include "agent/health_service.h"
#include "lib/result.h"

namespace grpc {
class Server;
}

namespace kata::agent {

class AgentServer {
 public:
  AgentServer(Sandbox& sandbox, GuestServiceOptions guestOptions,
              std::function<void()> onDestroySandbox);
  ~AgentServer();

  /// Starts serving; `unixPaths` are socket paths to listen on (a stale socket file is
  /// replaced; the new one is mode 0600).
  Status start(const std::vector<std::string>& unixPaths);
  /// Serves one already connected byte stream as a gRPC connection; takes ownership of `fd`.
  void addConnection(int fd);
  /// Stops accepting, cancels pending calls (after a short grace period) and waits for them.
  void shutdown();

 private:
  AgentService agent_;
  HealthService health_;
  ForwardService forward_;  // our own service (protocols/forward.proto)
  std::unique_ptr<::grpc::Server> server_;
  std::vector<std::string> socketPaths_;
};

}  // namespace kata::agent
