// The one resolver for paths inside untrusted trees (container rootfs, bundle, the shared dir a
// guest can write to). Every lookup treats the tree's root as "/": "..", absolute symlinks and
// relative symlinks can never leave it, and magic links (/proc/self/fd/N style) are refused.
//
// Uses openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) when the kernel has it (5.6+) and
// otherwise walks the path one component at a time with O_PATH | O_NOFOLLOW, expanding symlinks
// itself relative to the root.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "lib/result.h"
#include "lib/unique_fd.h"

namespace kata::safepath {

/// Opens `dir` (a trusted host path) as the root of a tree: O_PATH | O_DIRECTORY | O_CLOEXEC.
Result<UniqueFd> openRoot(const std::string& dir);

/// Opens `path` inside the tree rooted at `rootFd`, as if `rootFd` were "/". `flags` are open(2)
/// flags (O_CLOEXEC is always added). The last component is followed when it is a symlink
/// (inside the root) unless flags has O_NOFOLLOW; O_CREAT creates it with `mode` (a dangling
/// symlink's target is created inside the root, as openat2 does). "" or "/" is the root itself.
Result<UniqueFd> openInRoot(int rootFd, std::string_view path, int flags, mode_t mode = 0);

/// Like `mkdir -p` inside the tree: creates every missing directory of `path` with `mode`
/// (subject to umask). Existing symlinks are followed inside the root; a component that exists
/// but is not a directory is an error (ENOTDIR).
Status mkdirAllInRoot(int rootFd, std::string_view path, mode_t mode);

/// The host path of `path` as seen with `root` as "/", with every symlink resolved inside root.
/// The last component need not exist (its parent must). The answer is only as good as the
/// moment it was computed: prefer openInRoot + procFdPath for anything a guest can race.
Result<std::string> resolveInRoot(const std::string& root, std::string_view path);

/// "/proc/self/fd/N": lets mount(2) and similar path-taking calls act on an already opened,
/// already verified target instead of re-resolving a path an attacker could swap.
std::string procFdPath(int fd);

/// Test hook: when true, openat2 is treated as unavailable (ENOSYS) so the manual walk is used.
void forceFallbackForTesting(bool force);
/// True when lookups use openat2: the kernel has it and the fallback is not forced.
bool openat2Available();

}  // namespace kata::safepath
