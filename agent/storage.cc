#include "agent/storage.h"

#include "agent/container_config.h"
#include "lib/fs_util.h"
#include "lib/mount_options.h"
#include "protocols/agent.pb.h"

namespace kata::agent {

Result<MountedStorage> mountStorage(const grpc::Storage& s) {
  const std::string& mp = s.mount_point();
  KATA_TRY(validateContainerPath(mp, "storage mount_point"));
  if (mp == "/") return makeError("storage mount_point must not be /", EINVAL);
  if (s.options_size() > 256) return makeError("storage " + mp + ": too many options", EINVAL);
  std::string driver = s.driver();
  std::string fstype = s.fstype();
  std::string source = s.source();
  if (driver == "9p") {
    if (fstype.empty()) fstype = "9p";
  } else if (driver == "virtio-fs") {
    if (fstype.empty()) fstype = "virtiofs";
  } else if (driver == "ephemeral") {
    fstype = "tmpfs";
    if (source.empty()) source = "tmpfs";
  } else if (driver == "local") {
    KATA_TRY(mkdirAll(mp, 0777));
    return MountedStorage{mp, {}};
  } else {
    return makeError("storage " + mp + ": driver \"" + driver.substr(0, 32) + "\" is not supported",
                     EINVAL);
  }
  if (fstype != "9p" && fstype != "virtiofs" && fstype != "tmpfs") {
    return makeError("storage " + mp + ": fstype \"" + fstype.substr(0, 32) +
                         "\" does not match driver " + driver,
                     EINVAL);
  }
  if (source.empty() || source.size() > 256) {
    return makeError("storage " + mp + ": source must be 1 to 256 bytes", EINVAL);
  }
  mount::MountOptions opts = mount::parseMountOptions({s.options().begin(), s.options().end()});
  KATA_TRY(mkdirAll(mp, 0755));
  // The runtime's share (or a scratch tmpfs) where container rootfs and volumes live.
  KATA_TRY(mount::mount(source, mp, fstype, opts.flags & ~(MS_BIND | MS_REC), opts.data));
  return MountedStorage{mp, mount::ScopedMount(mp)};
}

}  // namespace kata::agent
