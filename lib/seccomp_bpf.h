// Seccomp programs compiled with libseccomp and installed later: compiled where allocating is
// fine, installed in a forked child just before exec, where only async-signal-safe calls are.
#pragma once

#include <seccomp.h>

#include <string>

#include "lib/result.h"

namespace kata {

/// The filter of `ctx` as a raw `struct sock_filter` array.
Result<std::string> exportBpf(scmp_filter_ctx ctx);

/// Installs a program from exportBpf on the calling thread (and what it execs). Only raw
/// syscalls: safe between fork and exec. Returns false with errno set on failure.
bool installBpf(const std::string& bpf);

}  // namespace kata
