#include "runtime/containerd-shim-v2/process_relay.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "shim/agent_url.h"

namespace kata::shimv2 {
namespace {

constexpr size_t kStdinChunk = 64 * 1024;

Status checkFifo(int fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return sysError("stat " + path);
  if (!S_ISFIFO(st.st_mode)) return makeError(path + ": not a FIFO", EINVAL);
  return okStatus();
}

// An output stream: containerd's FIFO, or a file for a log URI. containerd's reader may come
// later (or never: nobody attached): opening the FIFO with a reader of our own never blocks
// nor fails. Writes block once it is full, as with runc's shim.
Result<UniqueFd> openOutput(const std::string& path) {
  // `ctr run --log-uri file:///x`: both streams appended to a host file of the user's.
  if (path.rfind("file://", 0) == 0) {
    const std::string file = path.substr(7);
    if (file.empty() || file[0] != '/')
      return makeError("log URI " + path + ": want file:///absolute/path", EINVAL);
    UniqueFd fd(::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
    if (!fd) return sysError("open log file " + file);
    return fd;
  }
  if (path.find("://") != std::string::npos)
    return makeError("log URI " + path + ": only file:// is supported", ENOTSUP);
  if (path.empty()) {
    UniqueFd null(::open("/dev/null", O_WRONLY | O_CLOEXEC));
    if (!null) return sysError("open /dev/null");
    return null;
  }
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return sysError("open " + path);
  KATA_TRY(checkFifo(fd.get(), path));
  return fd;
}

// Read and write: never EOF while containerd's writer comes and goes; the end of input is
// CloseIO. Non-blocking, drained by the pump.
Result<UniqueFd> openInput(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return sysError("open " + path);
  KATA_TRY(checkFifo(fd.get(), path));
  return fd;
}

void notify(const UniqueFd& event) {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(event.get(), &one, sizeof one);
}

}  // namespace

Result<std::unique_ptr<ProcessRelay>> ProcessRelay::start(const Target& target, const ProcessIo& io,
                                                          std::function<void(int)> onExit) {
  std::unique_ptr<ProcessRelay> r(new ProcessRelay());
  KATA_ASSIGN_OR_RETURN(shim::AgentUrl url, shim::parseAgentUrl(target.agentUrl));
  KATA_ASSIGN_OR_RETURN(r->stdoutFifo_, openOutput(io.stdoutPath));
  if (!io.terminal) {
    KATA_ASSIGN_OR_RETURN(r->stderrFifo_, openOutput(io.stderrPath));
  }
  r->closeStdin_.reset(::eventfd(0, EFD_CLOEXEC));
  r->stop_.reset(::eventfd(0, EFD_CLOEXEC));
  if (!r->closeStdin_ || !r->stop_) return sysError("eventfd");
  if (!io.stdinPath.empty()) {
    KATA_ASSIGN_OR_RETURN(r->stdinFifo_, openInput(io.stdinPath));
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return sysError("pipe");
    r->stdinPipeRead_.reset(p[0]);
    r->stdinPipeWrite_.reset(p[1]);
  }
  KATA_ASSIGN_OR_RETURN(r->vmPidfd_, target.vm.openPidfd());

  shim::ShimConfig c;
  c.container = target.container;
  c.execId = target.execId;
  c.terminal = io.terminal;
  c.stdinFd = r->stdinPipeRead_ ? r->stdinPipeRead_.get() : -1;
  c.stdoutFd = r->stdoutFifo_.get();
  c.stderrFd = io.terminal ? r->stdoutFifo_.get() : r->stderrFifo_.get();
  if (r->vmPidfd_) c.watched.push_back({r->vmPidfd_.get(), "QEMU"});
  r->relay_ = std::make_unique<shim::Shim>(c, [url] { return shim::dialAgent(url); });
  if (r->stdinFifo_) r->pumpThread_ = std::thread([p = r.get()] { p->pumpStdin(); });
  r->relayThread_ = std::thread([p = r.get(), onExit = std::move(onExit)] {
    int status = p->relay_->run();
    // The process's output is over: containerd's readers get EOF now, as from runc's shim,
    // not at Delete. CRI's ExecSync waits for that EOF before it returns the exit code.
    p->stdoutFifo_.reset();
    p->stderrFifo_.reset();
    if (status == shim::kExitAgentLost)
      log::warn("process relay ended without the process's status",
                {{"reason", p->relay_->fatalError()}});
    onExit(status);
  });
  return r;
}

ProcessRelay::~ProcessRelay() {
  if (stop_) notify(stop_);
  if (relay_) relay_->cancel();
  if (relayThread_.joinable()) relayThread_.join();
  // A pump blocked writing to a relay that no longer reads gets EPIPE.
  stdinPipeRead_.reset();
  if (pumpThread_.joinable()) pumpThread_.join();
}

void ProcessRelay::closeStdin() {
  if (closeStdin_) notify(closeStdin_);
}

void ProcessRelay::pumpStdin() {
  std::string buf(kStdinChunk, '\0');
  bool draining = false;  // CloseIO came: what is in the FIFO goes, then EOF
  for (;;) {
    if (!draining) {
      pollfd fds[3] = {
          {stdinFifo_.get(), POLLIN, 0}, {closeStdin_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
      if (::poll(fds, 3, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (fds[2].revents) return;  // stopping: no EOF for the process either
      if (fds[1].revents) draining = true;
      if (!draining && !(fds[0].revents & POLLIN)) continue;
    }
    ssize_t n = ::read(stdinFifo_.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n < 0 && errno == EAGAIN && !draining) continue;
      break;  // drained (or unreadable): end of input
    }
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::write(stdinPipeWrite_.get(), buf.data() + off, size_t(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        stdinPipeWrite_.reset();  // the relay stopped reading: nothing more to give it
        return;
      }
      off += w;
    }
  }
  stdinPipeWrite_.reset();  // the relay sees EOF and closes the process's stdin
}

}  // namespace kata::shimv2
