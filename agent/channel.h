// The agent's host channels inside the VM: the yamux server on the virtio-serial port named
// agent.channel.0 (found through /sys/class/virtio-ports: there is no udev in the guest), and
// optionally the vsock port 1024. Every yamux stream and every vsock connection becomes one
// gRPC connection. When the host side of the port disconnects (proxy restart) the port is
// re-opened and a new session served.
#pragma once

#include <uv.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "agent/dns_relay.h"
#include "lib/result.h"
#include "lib/unique_fd.h"
#include "lib/uv_handle.h"
#include "lib/yamux_bridge.h"

namespace kata::agent {

inline constexpr const char* kAgentPortName = "agent.channel.0";
inline constexpr unsigned kAgentVsockPort = 1024;

/// The /dev path of the virtio-serial port called `name`: the port directory under `sysDir`
/// whose "name" file holds it, as a device under `devDir`. ENOENT when there is none (yet).
Result<std::string> findVirtioPort(const std::string& name,
                                   const std::string& sysDir = "/sys/class/virtio-ports",
                                   const std::string& devDir = "/dev");

struct ChannelOptions {
  bool serial = true;
  bool vsock = false;
  std::string portName = kAgentPortName;
  std::string sysDir = "/sys/class/virtio-ports";
  std::string devDir = "/dev";
  /// Serve this path instead of discovering the port (tests: a socket or pty).
  std::string portPath;
};

class Channel {
 public:
  /// `addConnection` takes ownership of a connected fd and serves gRPC on it.
  explicit Channel(std::function<void(int fd)> addConnection)
      : addConnection_(std::move(addConnection)) {}
  ~Channel();

  /// Starts the channel thread (a libuv loop).
  Status start(ChannelOptions options);
  /// Ends the session being served, closes every handle and the loop, joins the thread.
  void stop();

  /// Answers DNS at `address`:53 in the guest through the host (agent/dns_relay.h), from now
  /// on; nothing when it already does. Any thread, once the channel started; the sockets are
  /// bound before it returns. Fails when the serial channel is not served (vsock mode has no
  /// kata-proxy to relay).
  Status enableDnsRelay(const std::string& address);

  /// Sessions served so far (for tests and logs).
  uint64_t sessions() const { return sessions_.load(); }

 private:
  void run();
  void openSerial();
  Status listenVsock();
  void acceptVsock();
  void startDnsRelay();  // on the loop thread
  void closeAll();       // on the loop thread: the loop then runs out of handles and returns

  std::function<void(int fd)> addConnection_;
  ChannelOptions options_;
  uv_loop_t loop_{};
  std::unique_ptr<uv_async_t> stopAsync_;
  std::unique_ptr<uv_async_t> dnsAsync_;
  std::mutex dnsMu_;
  std::optional<DnsRelay::Sockets> dnsSockets_;  // bound, waiting for the loop (under dnsMu_)
  bool dnsEnabled_ = false;                      // under dnsMu_
  std::unique_ptr<DnsRelay> dnsRelay_;           // loop thread
  uv::Timer retryTimer_;
  uv::Poll vsockPoll_;
  UniqueFd vsockFd_;
  yamux::ServedSession session_;
  bool stopping_ = false;  // loop thread only
  std::thread thread_;
  std::atomic<uint64_t> sessions_{0};
  bool missingLogged_ = false;
};

}  // namespace kata::agent
