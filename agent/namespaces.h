// Linux namespace types as the OCI spec names them.
#pragma once

#include <string>
#include <string_view>

#include "lib/result.h"

namespace kata::agent {

/// CLONE_NEW* flag of an OCI namespace type ("pid", "network", "mount", "ipc", "uts", "user",
/// "cgroup"); error for anything else.
Result<int> namespaceFlag(std::string_view type);
/// The /proc/<pid>/ns/<name> entry of a CLONE_NEW* flag ("pid", "net", "mnt", ...).
const char* namespaceProcName(int flag);

}  // namespace kata::agent
