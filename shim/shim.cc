#include "shim/shim.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "lib/log.h"
#include "lib/page_out.h"
#include "protocols/agent_wire.h"
#include "shim/signals.h"
#include "shim/tty.h"

namespace kata::shim {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Stub = ::grpc::AgentService::Stub;

constexpr auto kFirstBackoff = 50ms;
constexpr auto kOomGrace = 300ms;      // for an OOM event to arrive after a SIGKILL exit
constexpr auto kOomRelayMax = 5000ms;  // for its relay to finish
constexpr size_t kMaxFatalBytes = 1024;
constexpr auto kMaxBackoff = 1000ms;

std::chrono::milliseconds nextBackoff(std::chrono::milliseconds d) {
  return std::min<std::chrono::milliseconds>(d * 2, kMaxBackoff);
}

// Writes all of `data` to `fd`, waiting for room when the descriptor is non-blocking (stdio
// descriptions are shared with the runtime's caller, so the shim cannot change their flags).
Status writeAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      pollfd p{fd, POLLOUT, 0};
      (void)::poll(&p, 1, -1);
      continue;
    }
    return sysError("write process output");
  }
  return okStatus();
}

}  // namespace

Shim::Shim(ShimConfig config, Dialer dialer)
    : config_(std::move(config)),
      connection_(std::move(dialer)),
      stopEvent_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

Shim::~Shim() {
  stopAll();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

std::string Shim::fatalError() const {
  std::lock_guard lock(mu_);
  return fatal_;
}

bool Shim::stopping() const {
  std::lock_guard lock(mu_);
  return stopping_;
}

void Shim::setFatal(std::string message) {
  // It quotes the agent, whose text is untrusted: bounded, for the log and the user's stderr.
  if (message.size() > kMaxFatalBytes) message.resize(kMaxFatalBytes);
  log::error(message);
  {
    std::lock_guard lock(mu_);
    if (fatal_.empty()) fatal_ = std::move(message);
  }
  cv_.notify_all();
}

bool Shim::sleepUnlessStopping(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, d, [this] { return stopping_; });
}

void Shim::cancel() {
  {
    std::lock_guard lock(mu_);
    if (fatal_.empty()) fatal_ = "relay cancelled";
  }
  stopAll();
}

void Shim::stopAll() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    // Unblocks reads still waiting for output a grandchild never writes, and calls stuck
    // retrying; registration under mu_ means no context is destroyed while cancelled here.
    for (auto* ctx : inFlight_) ctx->TryCancel();
  }
  if (stopEvent_) {
    uint64_t one = 1;
    ssize_t ignored = ::write(stopEvent_.get(), &one, sizeof one);
    (void)ignored;
  }
  cv_.notify_all();
}

template <class Req, class Resp>
Shim::Outcome Shim::call(const char* what, Method<Req, Resp> method, const Req& req, Resp* resp,
                         ::grpc::Status* failure) {
  std::optional<Clock::time_point> lostSince;
  auto backoff = std::chrono::milliseconds(kFirstBackoff);
  for (;;) {
    std::string reason;
    auto handle = connection_.get();
    if (handle.ok()) {
      ::grpc::ClientContext ctx;
      {
        std::lock_guard lock(mu_);
        if (stopping_) return Outcome::Stopped;
        inFlight_.insert(&ctx);
      }
      ::grpc::Status st = ((*handle->stub).*method)(&ctx, req, resp);
      {
        std::lock_guard lock(mu_);
        inFlight_.erase(&ctx);
      }
      if (st.ok()) return Outcome::Ok;
      if (stopping()) return Outcome::Stopped;
      if (st.error_code() != ::grpc::StatusCode::UNAVAILABLE) {
        *failure = st;
        return Outcome::Failed;
      }
      reason = handle->guard->violation();  // the guard cut a lying agent off
      if (reason.empty()) reason = st.error_message();
      connection_.markBroken(handle->generation);
    } else {
      if (stopping()) return Outcome::Stopped;
      reason = handle.error().str();
    }
    // The connection is gone (or never came up): kata-proxy may be restarting, so retry for a
    // while before declaring the agent lost.
    auto now = Clock::now();
    if (!lostSince) {
      lostSince = now;
      log::warn("agent unreachable, retrying", {{"call", what}, {"error", reason}});
    } else if (now - *lostSince >= config_.retryTimeout) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(config_.retryTimeout);
      setFatal("agent unreachable for " + std::to_string(ms.count()) + " ms (" + what +
               "): " + reason);
      return Outcome::Stopped;
    }
    if (!sleepUnlessStopping(backoff)) return Outcome::Stopped;
    backoff = nextBackoff(backoff);
  }
}

void Shim::outputLoop(bool isStderr) {
  const char* what = isStderr ? "ReadStderr" : "ReadStdout";
  int fd = isStderr ? config_.stderrFd : config_.stdoutFd;
  bool sinkOpen = true;
  auto backoff = std::chrono::milliseconds(kFirstBackoff);
  Clock::time_point failingSince{};  // epoch: reads are not failing
  ::grpc::ReadStreamRequest req;
  req.set_container_id(config_.container);
  req.set_exec_id(config_.execId);
  req.set_len(static_cast<uint32_t>(config_.readSize));
  for (;;) {
    ::grpc::ReadStreamResponse resp;
    ::grpc::Status failure;
    Outcome o = call(what, isStderr ? &Stub::ReadStderr : &Stub::ReadStdout, req, &resp, &failure);
    if (o == Outcome::Stopped) break;
    if (o == Outcome::Failed) {
      // The end of the stream (any agent's form of it), or a process the agent no longer has.
      if (wire::isEndOfStream(failure) || failure.error_code() == ::grpc::StatusCode::NOT_FOUND) {
        log::debug("output reached its end",
                   {{"stream", what}, {"status", failure.error_message()}});
        break;
      }
      // Anything else may pass (a process not started yet): retry for a while.
      auto now = Clock::now();
      if (failingSince == Clock::time_point{}) failingSince = now;
      if (now - failingSince >= config_.retryTimeout) {
        log::warn("output reads keep failing, giving up on the stream",
                  {{"stream", what}, {"error", failure.error_message()}});
        break;
      }
      log::debug("output read failed, retrying",
                 {{"stream", what}, {"error", failure.error_message()}});
      if (!sleepUnlessStopping(backoff)) break;
      backoff = nextBackoff(backoff);
      continue;
    }
    backoff = kFirstBackoff;
    failingSince = Clock::time_point{};
    if (resp.data().empty()) {
      log::debug("output reached EOF (empty reply)", {{"stream", what}});
      break;
    }
    if (!sinkOpen) continue;  // keep draining so the process never blocks on a full pipe
    if (auto st = writeAll(fd, resp.data()); !st) {
      log::warn("cannot deliver output, dropping the rest",
                {{"stream", what}, {"error", st.error().str()}});
      sinkOpen = false;
    }
  }
  {
    std::lock_guard lock(mu_);
    --openOutputs_;
  }
  cv_.notify_all();
}

void Shim::stdinLoop() {
  std::string buf(config_.stdinChunk, '\0');
  // No stdin at all is an empty one: the process must see EOF, not wait forever.
  while (config_.stdinFd >= 0) {
    pollfd fds[2] = {{config_.stdinFd, POLLIN, 0}, {stopEvent_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      log::warn("poll stdin failed", {{"error", sysError("poll").str()}});
      return;
    }
    if (fds[1].revents != 0) return;
    ssize_t n = 0;
    if ((fds[0].revents & POLLNVAL) == 0) {
      n = ::read(config_.stdinFd, buf.data(), buf.size());
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      // EIO: the terminal's other side hung up, which for the process is end of input.
      if (n < 0 && errno != EIO)
        log::warn("read stdin failed", {{"error", sysError("read").str()}});
    }
    if (n <= 0) break;  // EOF (or an unreadable stdin, which is the same for the process)

    size_t off = 0;
    while (off < static_cast<size_t>(n)) {
      ::grpc::WriteStreamRequest req;
      req.set_container_id(config_.container);
      req.set_exec_id(config_.execId);
      req.set_data(buf.data() + off, static_cast<size_t>(n) - off);
      ::grpc::WriteStreamResponse resp;
      ::grpc::Status failure;
      Outcome o = call("WriteStdin", &Stub::WriteStdin, req, &resp, &failure);
      if (o == Outcome::Stopped) return;
      if (o == Outcome::Failed) {
        log::warn("stdin write refused, no more input is relayed",
                  {{"error", failure.error_message()}});
        return;
      }
      // A reply of 0 bytes would loop forever, and more than was sent is a lie.
      if (resp.len() == 0 || resp.len() > static_cast<size_t>(n) - off) {
        log::warn("agent reported an invalid stdin write length, no more input is relayed",
                  {{"len", std::to_string(resp.len())}});
        return;
      }
      off += resp.len();
    }
  }

  log::debug("stdin reached EOF, closing the process's stdin");
  ::grpc::CloseStdinRequest req;
  req.set_container_id(config_.container);
  req.set_exec_id(config_.execId);
  ::google::protobuf::Empty resp;
  ::grpc::Status failure;
  Outcome o = call("CloseStdin", &Stub::CloseStdin, req, &resp, &failure);
  if (o == Outcome::Failed) log::debug("CloseStdin failed", {{"error", failure.error_message()}});
}

void Shim::waitLoop() {
  {
    // Upstream's agent forgets the process, and drops what it has not yet sent, when it
    // answers WaitProcess: ask only once the output has ended.
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return stopping_ || openOutputs_ == 0; });
    if (stopping_) return;
  }
  ::grpc::WaitProcessRequest req;
  req.set_container_id(config_.container);
  req.set_exec_id(config_.execId);
  ::grpc::WaitProcessResponse resp;
  ::grpc::Status failure;
  Outcome o = call("WaitProcess", &Stub::WaitProcess, req, &resp, &failure);
  if (o == Outcome::Stopped) return;
  if (o == Outcome::Failed) {
    setFatal("wait for process " + config_.execId + " of container " + config_.container + ": " +
             failure.error_message());
    return;
  }
  log::info("process exited", {{"status", std::to_string(resp.status())}});
  {
    std::lock_guard lock(mu_);
    exitStatus_ = resp.status();
  }
  cv_.notify_all();
}

void Shim::watchLoop() {
  std::vector<pollfd> fds;
  for (const auto& w : config_.watched) fds.push_back({w.pidfd, POLLIN, 0});
  fds.push_back({stopEvent_.get(), POLLIN, 0});
  for (;;) {
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      log::warn("cannot watch the sandbox's processes", {{"error", sysError("poll").str()}});
      return;
    }
    if (fds.back().revents != 0) return;
    for (size_t i = 0; i + 1 < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      // A pidfd is readable once its process has exited.
      setFatal(config_.watched[i].name + " exited: the container's VM is gone");
      stopAll();
      return;
    }
  }
}

void Shim::oomLoop() {
  ::grpc::GetOOMEventRequest req;
  for (int failures = 0; failures < 5;) {
    ::grpc::OOMEvent resp;
    ::grpc::Status failure;
    Outcome o = call("GetOOMEvent", &Stub::GetOOMEvent, req, &resp, &failure);
    if (o == Outcome::Stopped) return;
    if (o == Outcome::Failed) {
      if (failure.error_code() == ::grpc::StatusCode::UNIMPLEMENTED) return;
      log::debug("GetOOMEvent failed", {{"error", failure.error_message()}});
      failures++;
      if (!sleepUnlessStopping(std::chrono::milliseconds(500))) return;
      continue;
    }
    if (resp.container_id() != config_.container) continue;  // another container's
    log::info("the container hit its memory limit in the guest: relaying the OOM to the host");
    {
      std::lock_guard lock(mu_);
      oomRelaying_ = true;
    }
    if (auto st = config_.relayOom(); !st.ok())
      log::warn("OOM not relayed", {{"error", st.error().str()}});
    {
      std::lock_guard lock(mu_);
      oomRelaying_ = false;
      oomRelayed_ = true;
    }
    cv_.notify_all();
  }
}

void Shim::signalLoop(UniqueFd signalFd) {
  for (;;) {
    pollfd fds[2] = {{signalFd.get(), POLLIN, 0}, {stopEvent_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      log::error("poll signalfd failed", {{"error", sysError("poll").str()}});
      return;
    }
    if (fds[1].revents != 0) return;
    signalfd_siginfo si;
    while (::read(signalFd.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
      int sig = static_cast<int>(si.ssi_signo);
      log::debug("forwarding signal", {{"signal", signalName(sig)}});
      if (auto st = handleSignal(sig); !st) {
        log::warn("signal not forwarded",
                  {{"signal", signalName(sig)}, {"error", st.error().str()}});
      }
    }
  }
}

Status Shim::handleSignal(int sig) {
  if (sig == SIGWINCH) {
    if (!config_.terminal) return okStatus();
    return resizeTty();
  }
  ::grpc::SignalProcessRequest req;
  req.set_container_id(config_.container);
  req.set_exec_id(config_.execId);
  req.set_signal(static_cast<uint32_t>(sig));
  ::google::protobuf::Empty resp;
  ::grpc::Status failure;
  Outcome o = call("SignalProcess", &Stub::SignalProcess, req, &resp, &failure);
  if (o == Outcome::Failed) return makeError("SignalProcess: " + failure.error_message());
  if (o == Outcome::Stopped) return makeError("SignalProcess: shim is stopping");
  return okStatus();
}

Status Shim::resizeTty() {
  KATA_ASSIGN_OR_RETURN(WindowSize ws, windowSize(config_.stdinFd));
  if (ws.rows == 0 && ws.columns == 0) return okStatus();
  ::grpc::TtyWinResizeRequest req;
  req.set_container_id(config_.container);
  req.set_exec_id(config_.execId);
  req.set_row(ws.rows);
  req.set_column(ws.columns);
  ::google::protobuf::Empty resp;
  ::grpc::Status failure;
  Outcome o = call("TtyWinResize", &Stub::TtyWinResize, req, &resp, &failure);
  if (o == Outcome::Failed) return makeError("TtyWinResize: " + failure.error_message());
  if (o == Outcome::Stopped) return makeError("TtyWinResize: shim is stopping");
  return okStatus();
}

void Shim::releaseStartupPages() {
  auto advised = pageOutOwnFileMappings(config_.startupPagesFile);
  if (advised.ok())
    log::debug("start-up pages handed back", {{"mapped", std::to_string(*advised)}});
  else
    log::debug("start-up pages kept: " + advised.error().str());
}

int Shim::run() {
  {
    std::lock_guard lock(mu_);
    if (ran_) return kExitAgentLost;
    ran_ = true;
    openOutputs_ = config_.terminal ? 1 : 2;
  }
  if (!stopEvent_) {
    setFatal(sysError("create stop eventfd").str());
    return kExitAgentLost;
  }
  std::optional<RawTerminal> raw;
  if (config_.terminal && ::isatty(config_.stdinFd)) {
    if (auto r = RawTerminal::enable(config_.stdinFd); r.ok()) {
      raw = std::move(*r);
    } else {
      log::warn("cannot set stdin raw", {{"error", r.error().str()}});
    }
  }

  threads_.emplace_back([this] { waitLoop(); });
  threads_.emplace_back([this] { outputLoop(false); });
  if (!config_.terminal) threads_.emplace_back([this] { outputLoop(true); });
  threads_.emplace_back([this] { stdinLoop(); });
  if (!config_.watched.empty()) threads_.emplace_back([this] { watchLoop(); });
  if (config_.relayOom) threads_.emplace_back([this] { oomLoop(); });
  if (config_.forwardedSignals) {
    if (auto fd = openSignalFd(*config_.forwardedSignals); fd.ok()) {
      threads_.emplace_back([this, sfd = std::move(*fd)]() mutable { signalLoop(std::move(sfd)); });
    } else {
      log::error("signals will not be forwarded", {{"error", fd.error().str()}});
    }
  }
  if (config_.terminal) {
    if (auto st = resizeTty(); !st) {
      log::debug("initial window size not sent", {{"error", st.error().str()}});
    }
  }

  {
    std::unique_lock lock(mu_);
    auto done = [this] { return !fatal_.empty() || exitStatus_.has_value(); };
    if (!config_.startupPagesFile.empty() && !cv_.wait_for(lock, config_.startupPagesAfter, done)) {
      lock.unlock();
      releaseStartupPages();
      lock.lock();
    }
    cv_.wait(lock, done);
    // Killed by SIGKILL, as the guest's OOM killer does: its OOM event comes at about the same
    // time as the exit, and must be relayed first (Docker takes OOMKilled from an OOM reported
    // before the exit).
    if (config_.relayOom && exitStatus_ == 128 + SIGKILL) {
      cv_.wait_for(lock, kOomGrace, [this] { return oomRelaying_ || oomRelayed_; });
      cv_.wait_for(lock, kOomRelayMax, [this] { return !oomRelaying_; });
    }
  }
  stopAll();
  for (auto& t : threads_) t.join();
  threads_.clear();
  raw.reset();  // restore the terminal before the caller exits

  std::lock_guard lock(mu_);
  if (!exitStatus_) return kExitAgentLost;
  if (!config_.proxyExitCode) return 0;
  int status = *exitStatus_;
  if (status < 0 || status > 255) {
    log::warn("agent reported an out-of-range exit status", {{"status", std::to_string(status)}});
    return kExitAgentLost;
  }
  return status;
}

}  // namespace kata::shim
