// kata-proxy: one per sandbox. Multiplexes every client connection accepted on the listen
// socket (runtime, shims) onto the guest agent channel as a yamux stream, pings the agent every
// second, re-logs the guest console, relays the guest's DNS queries (proxy/dns_relay.h) and
// forwards CRI port-forward connections into the guest (proxy/port_forwarder.h).
#pragma once

#include <uv.h>

#include <memory>
#include <string>

#include "lib/result.h"
#include "lib/unique_fd.h"
#include "lib/uv_handle.h"
#include "lib/yamux_mux.h"
#include "proxy/console.h"
#include "proxy/dns_relay.h"
#include "proxy/options.h"
#include "proxy/port_forwarder.h"

namespace kata::proxy {

/// How long to retry connecting to the mux and console sockets: QEMU may create them a few
/// hundred milliseconds after the proxy starts.
inline constexpr int kConnectRetryMs = 5000;

class Proxy {
 public:
  explicit Proxy(Options options);
  ~Proxy();

  /// Connects, listens and serves until SIGTERM/SIGINT (exit status 0) or the VM side closes
  /// (0 when it closed the channel, 1 on a protocol or I/O error). Errors before serving
  /// (mux socket unreachable, listen socket unusable) are returned and leave nothing behind.
  Result<int> run();

  /// run() in two steps, for a proxy served from a thread of an embedding process (the shim
  /// v2): start() sets up on the caller's thread, serve() then runs the loop (on any one
  /// thread) until the VM side closes or requestStop().
  Status start();
  int serve();
  /// Thread-safe: ends serve() as SIGTERM would (the agent gets a go-away). Only after start().
  void requestStop();

 private:
  Status setUp();
  void onAccept();
  void finish(int exitCode, const Error& reason);

  Options options_;
  uv_loop_t loop_;
  bool relayDns_ = false;  // the proxy runs in the sandbox's netns: agent streams are DNS
  DnsRelay dnsRelay_;
  std::unique_ptr<PortForwarder> forwarder_;  // -forward-netns; dials listenSocket
  std::unique_ptr<yamux::Mux> mux_;
  UniqueFd listenFd_;
  bool listening_ = false;  // we created options_.listenSocket and must remove it
  uv::Poll listenPoll_;
  uv::Signal sigterm_;
  uv::Signal sigint_;
  uv::Async stopRequest_;
  LogPump console_{"console", "agent"};
  LogPump virtiofsdLog_{"virtiofsd", ""};
  int exitCode_ = 0;
  bool finished_ = false;
};

}  // namespace kata::proxy
