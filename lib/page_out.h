// Proactive reclaim of file pages another process (or this one) has mapped but no longer
// needs: QEMU keeps the guest kernel file mapped after loading it, only to reload it on a
// reset, and start-up code of a long-lived daemon stays mapped for its whole life. Such pages
// count fully in the process's PSS although the host could drop them at any time.
#pragma once

#include <sys/types.h>

#include <string>

#include "lib/result.h"

namespace kata {

/// Pages out every mapping of `file` (same device and inode; paths and symlinks do not matter)
/// in the process `pidfd` refers to, whose pid is `pid` (process_madvise with MADV_PAGEOUT; the
/// kernel skips pages other processes map too), then asks the kernel to read the file back into
/// the page cache in the background (POSIX_FADV_WILLNEED): the pages leave the process, not the
/// host's cache, and come back on the next touch as cheap minor faults. Returns the bytes of
/// the mappings advised (0 when `file` is not mapped). Needs CAP_SYS_NICE for another process.
Result<size_t> pageOutFileMappings(int pidfd, pid_t pid, const std::string& file);

/// The same for this process (no capability needed).
Result<size_t> pageOutOwnFileMappings(const std::string& file);

}  // namespace kata
