#include "runtime/containerd-shim-v2/agent_relay.h"

#include <fcntl.h>
#include <unistd.h>

namespace kata::shimv2 {

AgentRelay::~AgentRelay() { stop(); }

Result<vc::ProcessRef> AgentRelay::start(const vc::AgentRelayRequest& request) {
  if (proxy_) return makeError("the agent relay is started already", EBUSY);
  proxy::Options o;
  o.listenSocket = request.listenSocket;
  o.muxSocket = request.muxSocket;
  o.sandbox = request.sandboxId;
  o.agentLogsSocket = request.consoleSocket;
  o.consoleLog = request.consoleLog;
  // Port-forward works from a thread of its own in the netns (proxy/port_forwarder.h); the
  // DNS relay would need the relay's whole thread there, and is not done.
  o.forwardNetns = request.netns;
  o.handleSignals = false;  // the shim's own: SIGTERM ends the shim, which stops the relay
  if (request.virtiofsdLogFd >= 0) {
    // The relay reads virtiofsd's stderr from its own copy: the sandbox closes the original.
    int fd = ::fcntl(request.virtiofsdLogFd, F_DUPFD_CLOEXEC, 3);
    if (fd < 0) return sysError("dup virtiofsd's log pipe");
    o.virtiofsdLogFd = fd;
    o.virtiofsdLog = request.virtiofsdLog;
  }
  auto p = std::make_unique<proxy::Proxy>(o);
  KATA_TRY_CTX(p->start(), "agent relay");
  proxy_ = std::move(p);
  thread_ = std::thread([p = proxy_.get()] { (void)p->serve(); });
  return vc::ProcessRef::of(::getpid());
}

void AgentRelay::stop() {
  if (!proxy_) return;
  proxy_->requestStop();
  if (thread_.joinable()) thread_.join();
  proxy_.reset();
}

}  // namespace kata::shimv2
