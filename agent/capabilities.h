// Process capabilities from the OCI spec, applied with libcap.
#pragma once

#include <sys/capability.h>

#include <string>
#include <vector>

#include "lib/result.h"

namespace grpc {
class LinuxCapabilities;
}

namespace kata::agent {

struct CapabilitySets {
  std::vector<cap_value_t> bounding, effective, inheritable, permitted, ambient;
};

/// Maps "CAP_NET_ADMIN" style names. Names this kernel/libcap does not know are left out and
/// listed in `unknown` (runc warns about them too); a name that is not CAP_* is an error.
Result<CapabilitySets> parseCapabilities(const grpc::LinuxCapabilities& caps,
                                         std::vector<std::string>* unknown = nullptr);

/// Removes from `caps.ambient` what the kernel refuses to raise (a capability not in both the
/// permitted and inheritable sets) and returns the removed names. runc ignores that refusal,
/// so the process runs without them; we do the same, saying so.
std::vector<std::string> dropUnraisableAmbient(CapabilitySets& caps);

/// In the child, while still root: drops everything not in the bounding set.
Status dropBoundingSet(const CapabilitySets& caps);
/// In the child, after the uid switch (with PR_SET_KEEPCAPS): sets the effective, permitted and
/// inheritable sets and raises the ambient ones (see dropUnraisableAmbient).
Status applyCapabilities(const CapabilitySets& caps);

}  // namespace kata::agent
