// Small filesystem helpers for trusted host paths (state dirs, config files). For paths inside
// a rootfs, bundle or shared dir use lib/safe_path.h instead.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "lib/result.h"

namespace kata {

/// Removes `path` and everything below it. Never follows symlinks (a symlink is removed, not its
/// target) and never crosses into another mount (an EBUSY mount point is an error, not unmounted).
/// A missing path is success.
Status removeAll(const std::string& path);

/// Like `mkdir -p`: creates every missing directory of `path` with `mode`. Existing directories
/// are fine; an existing non-directory is ENOTDIR.
Status mkdirAll(const std::string& path, mode_t mode);

/// The names in a directory, without "." and ".."; a missing directory keeps ENOENT as the code.
Result<std::vector<std::string>> listDir(const std::string& path);

/// Reads a whole file; more than maxBytes is an error (EFBIG) rather than a truncation.
Result<std::string> readFile(const std::string& path, size_t maxBytes);

/// Replaces `path` atomically: writes a temp file in the same directory, fsyncs it, renames it
/// over `path` and fsyncs the directory. Readers see the old or the new content, never a mix.
/// `exclusive`: fails with EEXIST instead of replacing an existing `path` (one of several
/// concurrent writers wins).
Status writeFileAtomic(const std::string& path, std::string_view data, mode_t mode,
                       bool exclusive = false);

/// Writes `value` to an existing file with one write(2), as kernel control files (cgroup, proc)
/// take them; the error names the value and the path.
Status writeControlFile(const std::string& path, std::string_view value);

/// Writes all of `data` to `fd` (a blocking file or socket), retrying short writes and EINTR.
/// Sockets get MSG_NOSIGNAL: a peer that went away is EPIPE, not SIGPIPE.
Status writeAll(int fd, std::string_view data);

/// A small control file's content without trailing newlines and spaces; "" when unreadable.
std::string readControlFile(const std::string& path);

}  // namespace kata
