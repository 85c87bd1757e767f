#include "proxy/dns_relay.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "lib/dns_message.h"
#include "lib/log.h"
#include "lib/yamux_bridge.h"

namespace kata::proxy {
namespace {

// A non-blocking TCP connection to the DNS server, maybe still in progress (the bridge
// waits for it to become writable; a refused one fails its first write and resets the stream).
Result<UniqueFd> connectTcp(const std::string& address, uint16_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return sysError("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, address.c_str(), &addr.sin_addr) != 1)
    return makeError("invalid address " + address, EINVAL);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 &&
      errno != EINPROGRESS)
    return sysError("connect to " + address + ":" + std::to_string(port));
  return fd;
}

}  // namespace

void DnsRelay::serve(yamux::Stream& stream) {
  const std::string id = std::to_string(stream.id());
  if (*active_ >= kMaxStreams) {
    log::warn("guest DNS relay: too many connections, one refused", {{"stream", id}});
    stream.reset();
    return;
  }
  auto fd = connectTcp(address_, port_);
  if (!fd.ok()) {
    log::debug("guest DNS relay", {{"stream", id}, {"error", fd.error().str()}});
    stream.reset();
    return;
  }
  yamux::BridgeOptions bo;
  bo.inspectFromStream = [framing = std::make_shared<dns::TcpQueryFraming>()](
                             std::span<const uint8_t> bytes) { return framing->feed(bytes); };
  bo.maxLifetimeMs = kStreamLifetimeMs;
  bo.onClosed = [active = active_] { --*active; };
  ++*active_;
  Status st = yamux::bridge(stream, std::move(fd).value(), std::move(bo));
  if (!st.ok()) {
    --*active_;  // the bridge never started: its onClosed will not run
    log::warn("guest DNS relay", {{"stream", id}, {"error", st.error().str()}});
  }
}

Result<UniqueFd> openSandboxNetns(const std::string& path, const std::string& purpose) {
  UniqueFd ns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) return sysError("network namespace " + path);
  struct stat target {
  }, init{};
  if (::fstat(ns.get(), &target) != 0) return sysError("network namespace " + path);
  if (::stat("/proc/1/ns/net", &init) == 0 && init.st_dev == target.st_dev &&
      init.st_ino == target.st_ino)
    return makeError("network namespace " + path + " is the host's: no " + purpose + " there",
                     EINVAL);
  return ns;
}

Status enterNetns(const std::string& path) {
  KATA_ASSIGN_OR_RETURN(UniqueFd ns, openSandboxNetns(path, "DNS relay"));
  // Privileged: the proxy's sockets to Docker's DNS server must be made in the sandbox's
  // namespace; its unix sockets are paths and work from any namespace.
  if (::setns(ns.get(), CLONE_NEWNET) != 0) return sysError("enter network namespace " + path);
  return okStatus();
}

}  // namespace kata::proxy
