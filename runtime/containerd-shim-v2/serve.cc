#include "runtime/containerd-shim-v2/serve.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>

#include "lib/log.h"
#include "lib/ttrpc_server.h"
#include "runtime/containerd-shim-v2/bootstrap.h"
#include "runtime/containerd-shim-v2/events.h"
#include "runtime/containerd-shim-v2/task_handler.h"
#include "runtime/containerd-shim-v2/task_service.h"

namespace kata::shimv2 {
namespace {

constexpr int kInheritedListenerFd = 3;
constexpr auto kShutdownGrace = std::chrono::seconds(5);  // running calls finish, replies go out
constexpr auto kEventsDrain = std::chrono::seconds(5);

// Written by the signal handler, read by the main thread's poll: an eventfd.
std::atomic<int> gWakeFd{-1};

void onExitSignal(int) {
  int fd = gWakeFd.load();
  if (fd >= 0) {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(fd, &one, sizeof one);  // async-signal-safe
  }
}

/// The listening socket `start` handed down as fd 3, checked so that a shim run by hand
/// without it fails with a clear line instead of serving nothing.
Result<UniqueFd> inheritedListener() {
  struct stat st;
  int accepting = 0;
  socklen_t len = sizeof accepting;
  if (::fstat(kInheritedListenerFd, &st) < 0 || !S_ISSOCK(st.st_mode) ||
      ::getsockopt(kInheritedListenerFd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) < 0 ||
      !accepting) {
    return makeError(
        "no listening socket on fd 3: the shim daemon is started by `start` "
        "(or give -socket PATH)",
        EBADF);
  }
  // Not for the children the service starts (QEMU, ...).
  if (::fcntl(kInheritedListenerFd, F_SETFD, FD_CLOEXEC) < 0) return sysError("fcntl fd 3");
  return UniqueFd(kInheritedListenerFd);
}

}  // namespace

UniqueFd openContainerdLog(const std::string& bundle) {
  // O_NONBLOCK: open fails at once (ENXIO) instead of waiting for a reader that never comes.
  UniqueFd fd(::open((bundle + "/log").c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd) return fd;
  struct stat st;
  if (::fstat(fd.get(), &st) < 0 || !S_ISFIFO(st.st_mode)) return UniqueFd();
  // Blocking writes from here on: a slow containerd slows the log, it does not drop lines.
  int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) < 0) return UniqueFd();
  return fd;
}

Status serve(const Options& options) {
  // stderr goes to containerd's log when it reads one; else it stays /dev/null (from start).
  if (UniqueFd logFifo = openContainerdLog(options.bundle)) {
    if (::dup2(logFifo.get(), STDERR_FILENO) < 0) return sysError("dup2 the log fifo on stderr");
  }
  KATA_TRY(initShimLog(options));

  // containerd going away must not kill the shim on a write to its socket.
  ::signal(SIGPIPE, SIG_IGN);
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake) return sysError("eventfd");
  gWakeFd = wake.get();
  struct sigaction sa = {};
  sa.sa_handler = onExitSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);

  EventPublisher events(options);
  ttrpc::Server server;
  std::unique_ptr<TaskHandler> service = makeTaskService(options, events, [fd = wake.get()] {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(fd, &one, sizeof one);
  });
  if (!service) return makeError("the task service could not be created", EINVAL);
  KATA_TRY(registerTaskService(server, *service));

  std::string socketPath;
  if (!options.socket.empty()) {
    socketPath =
        socketPathOf(options.socket).empty() ? options.socket : socketPathOf(options.socket);
    KATA_TRY(server.listen(socketPath));  // stop() unlinks it
  } else {
    KATA_ASSIGN_OR_RETURN(UniqueFd listener, inheritedListener());
    KATA_TRY(server.serveListener(std::move(listener)));
    socketPath = socketPathOf(socketAddress(options.address, options.ns, options.id));
  }
  log::info("serving the task API", {{"socket", socketPath}});

  pollfd pfd = {wake.get(), POLLIN, 0};
  while (::poll(&pfd, 1, -1) < 0 && errno == EINTR) {
  }
  log::info("shutting down");

  if (auto st = server.shutdown(kShutdownGrace); !st.ok()) log::warn(st.error().str());
  service.reset();  // may still publish (teardown events)
  events.close(kEventsDrain);
  if (options.socket.empty()) ::unlink(socketPath.c_str());  // inherited: ours to remove
  gWakeFd = -1;
  return okStatus();
}

}  // namespace kata::shimv2
