#include "shim/signals.h"

#include <string.h>
#include <sys/signalfd.h>

#include <string>

namespace kata::shim {

sigset_t forwardedSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig = 1; sig <= SIGRTMAX; ++sig) {
    switch (sig) {
      case SIGKILL:
      case SIGSTOP:
      case SIGCHLD:
      case SIGPIPE:
      case SIGSEGV:
      case SIGBUS:
      case SIGILL:
      case SIGFPE:
      case SIGTRAP:
      case SIGSYS:
        continue;
      default:
        // glibc refuses its two internal real-time signals (thread cancellation, setxid);
        // leaving them out is what we want anyway.
        (void)sigaddset(&set, sig);
    }
  }
  return set;
}

Result<sigset_t> blockForwardedSignals() {
  // The shim has no children to reap, and a vanished stdout reader must surface as EPIPE on
  // write (handled per stream) instead of killing the shim and losing the exit status.
  if (::signal(SIGCHLD, SIG_IGN) == SIG_ERR) return sysError("ignore SIGCHLD");
  if (::signal(SIGPIPE, SIG_IGN) == SIG_ERR) return sysError("ignore SIGPIPE");
  sigset_t set = forwardedSignals();
  int rc = ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
  if (rc != 0) return sysError("block forwarded signals", rc);
  return set;
}

Result<UniqueFd> openSignalFd(const sigset_t& set) {
  UniqueFd fd(::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!fd) return sysError("create signalfd");
  return fd;
}

std::string signalName(int sig) {
  if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
    return sig == SIGRTMIN ? "RTMIN" : "RTMIN+" + std::to_string(sig - SIGRTMIN);
  }
  const char* abbrev = ::sigabbrev_np(sig);
  if (abbrev != nullptr) return abbrev;
  return std::to_string(sig);
}

}  // namespace kata::shim
