#include "agent/channel.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/dns_message.h"
#include "lib/fs_util.h"
#include "lib/log.h"
#include "lib/yamux_bridge.h"

namespace kata::agent {

Result<std::string> findVirtioPort(const std::string& name, const std::string& sysDir,
                                   const std::string& devDir) {
  DIR* dir = ::opendir(sysDir.c_str());
  if (!dir) return sysError("list " + sysDir);
  std::string found;
  while (dirent* e = ::readdir(dir)) {
    std::string entry = e->d_name;
    if (entry == "." || entry == "..") continue;
    auto text = readFile(sysDir + "/" + entry + "/name", 4096);
    if (!text.ok()) continue;
    std::string portName = *text;
    while (!portName.empty() && (portName.back() == '\n' || portName.back() == ' ')) {
      portName.pop_back();
    }
    if (portName == name) {
      found = devDir + "/" + entry;
      break;
    }
  }
  ::closedir(dir);
  if (found.empty()) return makeError("virtio-serial port " + name + " not found", ENOENT);
  return found;
}

Channel::~Channel() { stop(); }

Status Channel::start(ChannelOptions options) {
  options_ = std::move(options);
  int rc = uv_loop_init(&loop_);
  if (rc < 0) return uv::uvError(rc, "create event loop");
  stopAsync_ = std::make_unique<uv_async_t>();
  stopAsync_->data = this;
  uv_async_init(&loop_, stopAsync_.get(),
                [](uv_async_t* a) { static_cast<Channel*>(a->data)->closeAll(); });
  dnsAsync_ = std::make_unique<uv_async_t>();
  dnsAsync_->data = this;
  uv_async_init(&loop_, dnsAsync_.get(),
                [](uv_async_t* a) { static_cast<Channel*>(a->data)->startDnsRelay(); });
  KATA_TRY(retryTimer_.init(&loop_, [this] { openSerial(); }));
  if (options_.vsock) {
    if (auto s = listenVsock(); !s.ok()) {
      log::warn("vsock channel unavailable", {{"error", s.error().str()}});
    }
  }
  thread_ = std::thread([this] { run(); });
  return okStatus();
}

void Channel::stop() {
  if (!thread_.joinable()) return;
  uv_async_send(stopAsync_.get());
  thread_.join();
  int rc = uv_loop_close(&loop_);
  if (rc < 0) log::warn("agent channel loop not closed", {{"error", uv_strerror(rc)}});
}

void Channel::closeAll() {
  stopping_ = true;
  session_.shutdown(makeError("agent stopping"));
  retryTimer_.reset();
  vsockPoll_.reset();
  vsockFd_.reset();
  dnsRelay_.reset();
  uv_close(reinterpret_cast<uv_handle_t*>(dnsAsync_.get()), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(stopAsync_.get()), nullptr);
}

Status Channel::enableDnsRelay(const std::string& address) {
  if (!thread_.joinable() || !options_.serial)
    return makeError("no DNS relay: the agent channel is not served over virtio-serial", ENOTSUP);
  std::lock_guard<std::mutex> lock(dnsMu_);
  if (dnsEnabled_) return okStatus();
  KATA_ASSIGN_OR_RETURN(DnsRelay::Sockets sockets, DnsRelay::bind(address, dns::kDnsPort));
  dnsSockets_ = std::move(sockets);
  dnsEnabled_ = true;
  uv_async_send(dnsAsync_.get());
  return okStatus();
}

void Channel::startDnsRelay() {
  std::optional<DnsRelay::Sockets> sockets;
  {
    std::lock_guard<std::mutex> lock(dnsMu_);
    sockets.swap(dnsSockets_);
  }
  if (!sockets || stopping_) return;
  auto open = [this]() -> Result<yamux::Stream*> {
    yamux::Mux* mux = session_.mux();
    if (!mux) return makeError("the host is not connected", ENOTCONN);
    return mux->open();
  };
  auto relay = DnsRelay::start(&loop_, std::move(*sockets), open);
  if (!relay.ok()) {
    log::warn("DNS relay not started", {{"error", relay.error().str()}});
    return;
  }
  dnsRelay_ = std::move(relay).value();
  log::info("DNS relay started");
}

void Channel::run() {
  if (options_.serial) openSerial();
  uv_run(&loop_, UV_RUN_DEFAULT);
}

void Channel::openSerial() {
  std::string path = options_.portPath;
  if (path.empty()) {
    auto found = findVirtioPort(options_.portName, options_.sysDir, options_.devDir);
    if (!found.ok()) {
      // The port appears once virtio_console is loaded and the device probed.
      if (!missingLogged_)
        log::info("waiting for the agent channel", {{"error", found.error().str()}});
      missingLogged_ = true;
      retryTimer_.start(200);
      return;
    }
    path = *found;
  }
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (!fd) {
    log::warn("cannot open the agent channel", {{"error", sysError("open " + path).str()}});
    retryTimer_.start(500);
    return;
  }
  missingLogged_ = false;
  auto newPeer = [this]() -> Result<UniqueFd> {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
      return sysError("socketpair");
    }
    addConnection_(sv[0]);
    return UniqueFd(sv[1]);
  };
  uint64_t session = ++sessions_;
  auto onClose = [this, session](const Error& why) {
    log::debug("agent channel session ended",
               {{"session", std::to_string(session)}, {"reason", why.str()}});
    // Host side gone (or not connected yet): serve a fresh session on a re-opened port.
    if (!stopping_) retryTimer_.start(200);
  };
  auto served = yamux::serveMux(&loop_, std::move(fd), newPeer, onClose);
  if (!served.ok()) {
    log::warn("agent channel failed", {{"error", served.error().str()}});
    retryTimer_.start(500);
    return;
  }
  session_ = *served;
  log::debug("serving the agent channel", {{"port", path}, {"session", std::to_string(session)}});
}

Status Channel::listenVsock() {
  vsockFd_.reset(::socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!vsockFd_) return sysError("vsock socket");
  sockaddr_vm addr{};
  addr.svm_family = AF_VSOCK;
  addr.svm_cid = VMADDR_CID_ANY;
  addr.svm_port = kAgentVsockPort;
  if (::bind(vsockFd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return sysError("bind vsock port " + std::to_string(kAgentVsockPort));
  }
  if (::listen(vsockFd_.get(), 128) != 0) return sysError("listen on vsock");
  KATA_TRY(vsockPoll_.init(&loop_, vsockFd_.get(), [this](int, int) { acceptVsock(); }));
  vsockPoll_.want(UV_READABLE);
  log::info("serving the agent API on vsock", {{"port", std::to_string(kAgentVsockPort)}});
  return okStatus();
}

void Channel::acceptVsock() {
  for (;;) {
    int fd = ::accept4(vsockFd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return;
    addConnection_(fd);
  }
}

}  // namespace kata::agent
