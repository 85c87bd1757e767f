// Where kata-shim logs. Never stdio: the shim's stdout and stderr are the container's. Lines go
// to syslog when /dev/log exists, and to the file named by $KATA_SHIM_LOG when it is set;
// otherwise they are dropped.
#pragma once

#include <string>

#include "lib/result.h"
#include "shim/options.h"

namespace kata::shim {

/// Environment variable naming a file that kata-shim appends its log lines to.
inline constexpr const char* kLogFileEnv = "KATA_SHIM_LOG";

/// Configures the process logger for `options` (level, container and exec-id fields). Fails only
/// when $KATA_SHIM_LOG is set and cannot be opened; the logger then still works without it.
Status initShimLog(const Options& options);

}  // namespace kata::shim
