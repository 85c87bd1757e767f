// Confinement of the host processes that carry out the guest's file requests: QEMU (virtio-9p
// serves the share from inside QEMU) and virtiofsd. The guest is untrusted and the share holds
// host files (container rootfs, volumes), so whatever these processes may do to a file, a
// compromised guest may ask them to do. Both keep running as root (they must reach every file
// of the rootfs), but:
//   * no device nodes (CAP_MKNOD gone, and mknod of a character or block device refused by the
//     filter): a node made in a rootfs would be a live device for every host process that opens
//     it there;
//   * no setuid or setgid bits (chmod, fchmod, fchmodat, open, creat and mknod with S_ISUID or
//     S_ISGID refused with EPERM) and no file capabilities (CAP_SETFCAP gone): a bundle's rootfs
//     is often readable by unprivileged host users, who could run what the guest prepared;
//   * without CAP_FSETID the kernel clears setuid and setgid bits when they write to a file
//     (the guest cannot overwrite an image's setuid binary and keep the bit);
//   * openat2 (whose mode the filter cannot see) and io_uring (whose operations bypass seccomp)
//     answer ENOSYS: QEMU and virtiofsd fall back to the plain calls.
// The guest sees EPERM for those operations, as a container without CAP_MKNOD or CAP_FSETID
// would.
#pragma once

#include <string>
#include <vector>

#include "lib/result.h"

namespace kata::vc {

/// Capabilities QEMU is started without (dropped from its bounding set).
std::vector<int> guestFileServerDroppedCaps();

/// virtiofsd's own option for the same capabilities ("modcaps=-mknod:-fsetid:-setfcap"): it
/// sets its capabilities itself and would fail if they were missing from its bounding set.
std::string virtiofsdModcapsOption();

/// The seccomp program (lib/seccomp_bpf.h) for QEMU and virtiofsd: everything allowed except
/// what the header comment lists.
Result<std::string> guestFileServerSeccomp();

}  // namespace kata::vc
