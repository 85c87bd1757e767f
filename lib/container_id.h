// Validation of container and sandbox ids. The id becomes a path component under /run/vc,
// /run/kata-containers and the runtime root, so it must never be able to name a parent or a
// nested directory. The rules are runc's: [A-Za-z0-9_+.-]+, neither "." nor "..".
#pragma once

#include <string_view>

#include "lib/result.h"

namespace kata {

/// Longest id accepted; longer ids would overflow unix socket paths built from them anyway.
inline constexpr size_t kMaxContainerIdLength = 1024;

/// Ok when `id` is non-empty, at most kMaxContainerIdLength bytes, made only of
/// [A-Za-z0-9_+.-] and is neither "." nor "..". Otherwise an error such as
///   invalid container id "../x": only [A-Za-z0-9_+.-] allowed
Status validateContainerId(std::string_view id);

}  // namespace kata
