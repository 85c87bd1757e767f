// The shim v2's own agent relay: what kata-proxy does for the CLI (one yamux session on QEMU's
// agent channel, each connection to the sandbox's agent socket bridged to a stream, the guest
// console kept in console.log, CRI port-forward into the guest), served from a thread of the
// shim instead of a process of its own. The guest's DNS queries are not relayed (that needs the
// relay's thread in the sandbox's network namespace; only Docker's embedded resolver asks).
#pragma once

#include <memory>
#include <thread>

#include "lib/result.h"
#include "proxy/proxy.h"
#include "runtime/virtcontainers/process_ref.h"
#include "runtime/virtcontainers/sandbox.h"

namespace kata::shimv2 {

class AgentRelay {
 public:
  AgentRelay() = default;
  ~AgentRelay();  // stop()
  AgentRelay(const AgentRelay&) = delete;
  AgentRelay& operator=(const AgentRelay&) = delete;

  /// A vc::AgentRelayStarter: sets the relay up on the calling thread, serves it from a new
  /// one and returns this process. Once only.
  Result<vc::ProcessRef> start(const vc::AgentRelayRequest& request);
  /// Ends the relay (the agent gets a go-away) and joins its thread. Idempotent.
  void stop();

 private:
  std::unique_ptr<proxy::Proxy> proxy_;
  std::thread thread_;
};

}  // namespace kata::shimv2
