#include "proxy/proxy.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/unix_socket.h"
#include "lib/yamux_bridge.h"

namespace kata::proxy {

Proxy::Proxy(Options options) : options_(std::move(options)) { uv_loop_init(&loop_); }

Proxy::~Proxy() {
  forwarder_.reset();
  console_.stop();
  virtiofsdLog_.stop();
  mux_.reset();
  listenPoll_.reset();
  sigterm_.reset();
  sigint_.reset();
  stopRequest_.reset();
  listenFd_.reset();
  if (listening_) ::unlink(options_.listenSocket.c_str());
  uv_run(&loop_, UV_RUN_NOWAIT);  // lets libuv run the close callbacks that free handles
  uv_loop_close(&loop_);
}

Status Proxy::setUp() {
  if (!options_.dnsNetns.empty()) {
    Status entered = enterNetns(options_.dnsNetns);
    relayDns_ = entered.ok();
    if (!entered.ok())
      log::warn("guest DNS queries are not relayed", {{"error", entered.error().str()}});
  }
  KATA_ASSIGN_OR_RETURN(UniqueFd muxFd, connectUnix(options_.muxSocket, kConnectRetryMs));
  yamux::MuxOptions mo;
  mo.session.role = yamux::Role::Client;
  // Upstream disables yamux keepalive and pings every second instead. Its 1 s write timeout
  // fails single writes in Go; here a stalled guest only delays streams (bounded buffers), as
  // a TCG guest under load can stall for longer than a second.
  mo.pingIntervalMs = 1000;
  // 1 MiB per stream from the agent (yamux starts at 256 KiB): a ReadStdout reply of 1 MiB
  // then flows without waiting for window updates to cross the emulated guest's channel
  // (stdout through the shim 37 -> 53 MiB/s). The memory bound per stream grows to match.
  mo.session.receiveWindow = 1u << 20;
  mo.logName = options_.sandbox.empty() ? "kata-proxy" : options_.sandbox;
  // The only streams the agent opens carry its DNS relay's queries.
  auto onAgentStream = [this](yamux::Stream& stream) {
    if (relayDns_) {
      dnsRelay_.serve(stream);
    } else {
      stream.reset();
    }
  };
  KATA_ASSIGN_OR_RETURN(mux_, yamux::Mux::start(&loop_, std::move(muxFd), mo, onAgentStream,
                                                [this](const Error& reason) {
                                                  bool clean = mux_ && mux_->closedCleanlyByPeer();
                                                  finish(clean ? 0 : 1, reason);
                                                }));

  KATA_ASSIGN_OR_RETURN(listenFd_, listenUnix(options_.listenSocket));
  listening_ = true;
  KATA_TRY(listenPoll_.init(&loop_, listenFd_.get(), [this](int status, int) {
    if (status < 0) {
      finish(1, uv::uvError(status, "listen socket error"));
      return;
    }
    onAccept();
  }));
  listenPoll_.want(UV_READABLE);

  if (!options_.forwardNetns.empty()) {
    // Optional: a sandbox without it still runs; crictl port-forward then fails as with runc
    // on a pod whose port nothing listens on.
    auto forwarder =
        PortForwarder::start({options_.forwardNetns, options_.listenSocket, options_.sandbox});
    if (forwarder.ok()) {
      forwarder_ = std::move(forwarder).value();
    } else {
      log::warn("port-forward into the guest is not available",
                {{"error", forwarder.error().str()}});
    }
  }

  if (options_.handleSignals) {
    auto onSignal = [this](int sig) {
      finish(0, makeError(std::string("received ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT")));
    };
    KATA_TRY(sigterm_.start(&loop_, SIGTERM, onSignal));
    KATA_TRY(sigint_.start(&loop_, SIGINT, onSignal));
  }
  // Not counted as a reason to keep the loop running: it lives until ~Proxy, so that
  // requestStop() from another thread never races with its close.
  KATA_TRY(stopRequest_.init(&loop_, [this] { finish(0, makeError("stop requested")); }));
  uv_unref(reinterpret_cast<uv_handle_t*>(stopRequest_.get()));

  if (!options_.virtiofsdLog.empty()) {
    // virtiofsd's stderr, a pipe kata-runtime handed down as fd 3 (see console.h).
    const int fd = options_.virtiofsdLogFd;
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode)) {
      log::warn("no virtiofsd pipe on fd " + std::to_string(fd) +
                ": virtiofsd's messages are not kept");
    } else {
      (void)::fcntl(fd, F_SETFD, FD_CLOEXEC);
      KATA_TRY(virtiofsdLog_.start(&loop_, UniqueFd(fd), options_.virtiofsdLog));
    }
  }
  if (!options_.agentLogsSocket.empty()) {
    auto console = connectUnix(options_.agentLogsSocket, 1000);
    if (!console) {
      log::warn("cannot read the guest console", {{"error", console.error().str()}});
    } else {
      KATA_TRY(console_.start(&loop_, std::move(console).value(), options_.consoleLog));
    }
  }
  return okStatus();
}

Result<int> Proxy::run() {
  ::signal(SIGPIPE, SIG_IGN);  // a client hanging up must not kill the whole sandbox's proxy
  KATA_TRY(start());
  return serve();
}

Status Proxy::start() {
  Status st = setUp();
  if (!st.ok()) {
    finished_ = true;
    return st;  // ~Proxy removes whatever was created
  }
  log::info("proxy started",
            {{"listen-socket", options_.listenSocket}, {"mux-socket", options_.muxSocket}});
  return okStatus();
}

int Proxy::serve() {
  uv_run(&loop_, UV_RUN_DEFAULT);
  return exitCode_;
}

void Proxy::requestStop() { stopRequest_.send(); }

void Proxy::onAccept() {
  for (;;) {
    UniqueFd conn(::accept4(listenFd_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!conn) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        log::warn("accept failed", {{"error", sysError("accept").str()}});
      }
      return;
    }
    if (!mux_ || mux_->closed()) return;  // conn closes: the client sees EOF
    auto stream = mux_->open();
    if (!stream) {
      log::warn("cannot open a stream to the agent", {{"error", stream.error().str()}});
      continue;
    }
    uint32_t id = (*stream)->id();
    Status st = yamux::bridge(**stream, std::move(conn));
    if (!st.ok()) {
      log::warn("cannot bridge client connection", {{"error", st.error().str()}});
      continue;
    }
    log::debug("client connection bridged", {{"stream", std::to_string(id)}});
  }
}

void Proxy::finish(int exitCode, const Error& reason) {
  if (finished_) return;
  finished_ = true;
  exitCode_ = exitCode;
  if (exitCode == 0) {
    log::info("proxy exiting", {{"reason", reason.str()}});
  } else {
    log::error("proxy exiting", {{"reason", reason.str()}});
  }
  forwarder_.reset();  // its calls end before the agent socket goes
  listenPoll_.reset();
  listenFd_.reset();
  if (listening_) {
    ::unlink(options_.listenSocket.c_str());
    listening_ = false;
  }
  sigterm_.reset();
  sigint_.reset();
  console_.stop();
  virtiofsdLog_.stop();
  if (mux_ && !mux_->closed()) mux_->shutdown(reason);  // go-away(normal) to the agent
}

}  // namespace kata::proxy
