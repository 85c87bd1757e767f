// Unix stream sockets by path, for servers and clients on the host (kata-proxy's sockets,
// the ttrpc server and client).
#pragma once

#include <string>

#include "lib/result.h"
#include "lib/unique_fd.h"

namespace kata {

/// Connects a (blocking) unix stream socket to `path`, retrying ENOENT/ECONNREFUSED for up to
/// `retryMs`.
Result<UniqueFd> connectUnix(const std::string& path, int retryMs);

/// Creates a non-blocking listening unix socket at `path` with mode 0600. A stale socket left
/// by a dead server is replaced; a live one or any other kind of file is an error.
Result<UniqueFd> listenUnix(const std::string& path);

}  // namespace kata
