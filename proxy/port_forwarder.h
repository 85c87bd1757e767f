// The host side of CRI port-forward (docs/architecture.md "Port-forward (CRI)"). containerd's
// CRI plugin forwards a port by dialling 127.0.0.1:<port> inside the pod's network namespace
// on the host, where nothing of a Kata pod listens. The forwarder, on a thread of its own that
// entered that namespace, adds there one nat OUTPUT rule (iptables) redirecting every TCP
// connection to 127.0.0.1 to its listening port, reads each connection's original port
// (SO_ORIGINAL_DST) and carries it to 127.0.0.1:<port> in the guest through the agent's
// kata.ForwardService (protocols/forward.proto), over the agent socket like any agent client.
// Bounds: kMaxConnections at once (more are closed at once), every message from the guest at
// most wire::kForwardMaxMessage bytes and read only once the previous one was written out.
#pragma once

#include <grpcpp/channel.h>

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "lib/result.h"
#include "lib/unique_fd.h"

namespace kata::proxy {

struct PortForwarderOptions {
  std::string netns;        // the sandbox's network namespace (a path); the host's is refused
  std::string agentSocket;  // the agent socket every agent client dials (the relay's)
  std::string sandbox;      // named in log lines
};

/// The iptables arguments (after the program name) that add ("-A") or delete ("-D") the
/// redirect of TCP to 127.0.0.1, any port, to `port`.
std::vector<std::string> redirectRuleArgs(const std::string& op, uint16_t port);

class PortForwarder {
 public:
  static constexpr size_t kMaxConnections = 64;

  /// Enters the namespace on a new thread, listens on 127.0.0.1 (an ephemeral port), adds the
  /// rule and serves. Fails (nothing left behind) when the namespace cannot be entered or is
  /// the host's, or iptables is missing or fails.
  static Result<std::unique_ptr<PortForwarder>> start(PortForwarderOptions options);
  /// stop().
  ~PortForwarder();
  PortForwarder(const PortForwarder&) = delete;
  PortForwarder& operator=(const PortForwarder&) = delete;

  /// Removes the rule, closes the listening socket and every forwarded connection, joins the
  /// threads. Idempotent.
  void stop();

  /// The port the rule redirects to (in the sandbox's namespace).
  uint16_t port() const { return port_; }

 private:
  struct Connection;
  explicit PortForwarder(PortForwarderOptions options);
  Status setUp();   // on the forwarder's thread, in the namespace
  void serve();     // on the forwarder's thread, until stop()
  void tearDown();  // on the forwarder's thread
  Status runIptables(const std::string& op);
  void forward(Connection& c);  // on the connection's thread
  void reapFinished(bool all);

  PortForwarderOptions options_;
  UniqueFd netns_;
  UniqueFd listenFd_;
  UniqueFd stopFd_;  // eventfd: stop() wakes the forwarder's thread
  uint16_t port_ = 0;
  bool ruleAdded_ = false;
  std::shared_ptr<::grpc::Channel> channel_;
  std::thread thread_;
  std::mutex mu_;
  std::list<std::unique_ptr<Connection>> connections_;  // under mu_
  std::atomic<bool> unimplementedLogged_{false};
};

}  // namespace kata::proxy
