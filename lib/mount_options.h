// OCI / mount(8) option lists turned into mount(2) arguments.
#pragma once

#include <string>
#include <vector>

namespace kata::mount {

struct MountOptions {
  unsigned long flags = 0;                 // MS_* for the mount call (MS_BIND, MS_RDONLY, ...)
  std::vector<unsigned long> propagation;  // MS_SHARED/MS_SLAVE/... (| MS_REC), applied after
  std::string data;                        // filesystem-specific options ("mode=755,size=65536k")
  bool bind() const;
  bool readonly() const;
};

/// Known flag words set or clear MS_* bits ("ro", "nosuid", "rw", "bind", "rbind", "rprivate",
/// ...); anything else goes to `data` in order.
MountOptions parseMountOptions(const std::vector<std::string>& options);

}  // namespace kata::mount
