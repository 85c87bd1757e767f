// Storages the runtime asks the guest to mount (CreateSandbox and CreateContainer): the 9p or
// virtio-fs share of the sandbox dir, tmpfs "ephemeral" volumes, "local" directories.
#pragma once

#include <string>
#include <vector>

#include "lib/mount.h"
#include "lib/result.h"

namespace grpc {
class Storage;
}

namespace kata::agent {

/// A mounted storage; unmounted when destroyed (unless it is a plain "local" directory).
struct MountedStorage {
  std::string mountPoint;
  mount::ScopedMount mount;
};

/// Validates and mounts one storage. Supported drivers: "9p", "virtio-fs", "ephemeral"
/// (tmpfs), "local" (a directory). Errors name the storage.
Result<MountedStorage> mountStorage(const grpc::Storage& storage);

}  // namespace kata::agent
