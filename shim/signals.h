// Which signals kata-shim forwards to the container process, and how it receives them: they are
// blocked in every thread (main blocks them before any thread exists, threads inherit the mask)
// and read from a signalfd by one thread, so no handler ever runs in the middle of gRPC code.
#pragma once

#include <signal.h>

#include <string>

#include "lib/result.h"
#include "lib/unique_fd.h"

namespace kata::shim {

/// Every catchable signal except SIGCHLD and SIGPIPE (ignored) and the synchronous fault
/// signals (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS), which must keep their default
/// action so that a crash of the shim itself still dumps core. SIGWINCH is in the set: it
/// becomes TtyWinResize in terminal mode and is dropped otherwise.
sigset_t forwardedSignals();

/// Ignores SIGCHLD and SIGPIPE and blocks forwardedSignals() in the calling thread. Call it
/// first thing in main(), before any thread (gRPC starts some) exists. Returns the blocked set.
Result<sigset_t> blockForwardedSignals();

/// A non-blocking signalfd (O_CLOEXEC) for `set`, which must be blocked in every thread.
Result<UniqueFd> openSignalFd(const sigset_t& set);

/// The signal's name without "SIG" ("TERM", "RTMIN+3"), or its number, for logs.
std::string signalName(int sig);

}  // namespace kata::shim
