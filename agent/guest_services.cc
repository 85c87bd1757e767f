#include "agent/guest_services.h"

#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "lib/fs_util.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "lib/safe_path.h"
#include "lib/unique_fd.h"
#include "lib/version.h"
#include "protocols/agent.pb.h"

namespace kata::agent {

namespace {

constexpr size_t kMaxSeed = 1 << 20;
constexpr size_t kMaxProbeAddresses = 4096;
constexpr uint32_t kMaxCpus = 4096;
constexpr int64_t kMaxCopySize = int64_t{1} << 40;
constexpr size_t kMaxCopyChunk = 4 << 20;

Status writeValue(const std::string& path, const std::string& value) {
  // O_TRUNC means nothing to sysfs; it keeps a test's plain-file tree exact.
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (!fd) return sysError("open " + path);
  if (::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size())) {
    return sysError("write " + path);
  }
  return okStatus();
}

std::vector<std::string> globPaths(const std::string& pattern) {
  std::vector<std::string> out;
  glob_t g{};
  if (::glob(pattern.c_str(), 0, nullptr, &g) == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
  }
  ::globfree(&g);
  return out;
}

std::string trimmed(const std::string& path) {
  auto text = readFile(path, 256);
  if (!text.ok()) return "";
  std::string s = *text;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

Result<uint64_t> memBlockSize(const std::string& path) {
  std::string text = trimmed(path);
  if (text.empty()) return makeError("cannot read " + path, ENOENT);
  auto v = parseInt<uint64_t>(text, path, 16);
  if (!v.ok() || *v == 0)
    return makeError(path + " holds \"" + text.substr(0, 32) + "\", not a hex size", EIO);
  return *v;
}

}  // namespace

Status GuestServices::requireGuest(const char* what, bool redirected) const {
  if (o_.guestMode || redirected) return okStatus();
  return makeError(std::string(what) +
                       " is only available when the agent runs as the VM's init (host test "
                       "mode changes nothing on the host)",
                   EALREADY);
}

Result<int> GuestServices::onlineCpus(uint32_t wanted, bool wait) {
  int onlined = 0;
  for (int attempt = 0;; ++attempt) {
    for (const auto& file : globPaths(sysPath("devices/system/cpu/cpu[0-9]*/online"))) {
      if (trimmed(file) != "0") continue;
      // A hot-added vCPU arrives offline; writing 1 starts it.
      if (auto s = writeValue(file, "1"); !s.ok()) {
        log::warn("cpu not onlined", {{"file", file}, {"error", s.error().str()}});
        continue;
      }
      ++onlined;
      if (wanted && static_cast<uint32_t>(onlined) >= wanted) return onlined;
    }
    if (!wanted || !wait || attempt + 1 >= o_.onlineRetries) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(o_.onlineRetryMs));
  }
  if (wanted && static_cast<uint32_t>(onlined) < wanted) {
    return makeError("only " + std::to_string(onlined) + " of " + std::to_string(wanted) +
                         " hot-added CPUs could be onlined",
                     ETIMEDOUT);
  }
  return onlined;
}

Status GuestServices::onlineMemory() {
  for (const auto& file : globPaths(sysPath("devices/system/memory/memory[0-9]*/state"))) {
    if (trimmed(file) != "offline") continue;
    // Hot-added memory blocks stay unused until onlined.
    KATA_TRY(writeValue(file, "online"));
  }
  return okStatus();
}

Status GuestServices::onlineCpuMem(const grpc::OnlineCPUMemRequest& req) {
  KATA_TRY(requireGuest("OnlineCPUMem", o_.sysfsRedirected));
  if (req.nb_cpus() > kMaxCpus) {
    return makeError("OnlineCPUMem nb_cpus " + std::to_string(req.nb_cpus()) + " exceeds " +
                         std::to_string(kMaxCpus),
                     EINVAL);
  }
  if (req.cpu_only() && req.nb_cpus() == 0) {
    return makeError("OnlineCPUMem: cpu_only with nb_cpus 0 has nothing to do", EINVAL);
  }
  if (req.nb_cpus() > 0) KATA_TRY(onlineCpus(req.nb_cpus(), req.wait()));
  if (!req.cpu_only()) KATA_TRY(onlineMemory());
  return okStatus();
}

Status GuestServices::widenCpusets(const std::vector<std::string>& cgroupPaths) {
  std::string root = sysPath("fs/cgroup/cpuset");
  std::string cpus = trimmed(root + "/cpuset.cpus");
  if (cpus.empty()) return okStatus();  // no cpuset hierarchy
  for (const auto& path : cgroupPaths) {
    std::string dir = root;
    size_t start = 1;
    while (start < path.size()) {
      size_t end = path.find('/', start);
      if (end == std::string::npos) end = path.size();
      dir += "/" + path.substr(start, end - start);
      start = end + 1;
      std::string file = dir + "/cpuset.cpus";
      if (::access(file.c_str(), F_OK) != 0) break;
      if (trimmed(file) == cpus) continue;
      // A child's cpuset must stay within its parent's: widen from the top down.
      KATA_TRY(writeValue(file, cpus));
    }
  }
  return okStatus();
}

Status GuestServices::memHotplugByProbe(const std::vector<uint64_t>& addresses) {
  KATA_TRY(requireGuest("MemHotplugByProbe", o_.sysfsRedirected));
  if (addresses.empty()) return makeError("MemHotplugByProbe: no address given", EINVAL);
  if (addresses.size() > kMaxProbeAddresses) {
    return makeError("MemHotplugByProbe: more than 4096 addresses", EINVAL);
  }
  std::string probe = sysPath("devices/system/memory/probe");
  if (::access(probe.c_str(), W_OK) != 0) {
    return makeError("this kernel has no memory probe interface (" + probe + ")", ENOTSUP);
  }
  KATA_ASSIGN_OR_RETURN(uint64_t block,
                        memBlockSize(sysPath("devices/system/memory/block_size_bytes")));
  for (uint64_t addr : addresses) {
    if (addr % block != 0) {
      char buf[64];
      snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(addr));
      return makeError(std::string("MemHotplugByProbe: address ") + buf +
                           " is not aligned to the memory block size",
                       EINVAL);
    }
  }
  for (uint64_t addr : addresses) {
    char buf[32];
    snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(addr));
    // Tells the kernel that memory was plugged at this physical address.
    KATA_TRY(writeValue(probe, buf));
  }
  return okStatus();
}

Status GuestServices::setDateTime(int64_t sec, int64_t usec) {
  if (sec < 0 || usec < 0 || usec >= 1000000) {
    return makeError("SetGuestDateTime: sec must be >= 0 and usec in 0..999999", EINVAL);
  }
  timeval tv{static_cast<time_t>(sec), static_cast<suseconds_t>(usec)};
  if (o_.setClock) return o_.setClock(tv);
  KATA_TRY(requireGuest("SetGuestDateTime", false));
  // The guest clock stops while the VM is paused; the host sets it right again.
  if (::settimeofday(&tv, nullptr) != 0) return sysError("settimeofday");
  return okStatus();
}

Status GuestServices::reseedRandom(const std::string& data) {
  if (data.empty()) return makeError("ReseedRandomDev: data is empty", EINVAL);
  if (data.size() > kMaxSeed) return makeError("ReseedRandomDev: data exceeds 1 MiB", EINVAL);
  KATA_TRY(requireGuest("ReseedRandomDev", o_.randomRedirected));
  UniqueFd fd(::open(o_.randomDevice.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return sysError("open " + o_.randomDevice);
  // Writing to the random device mixes the bytes in without crediting entropy.
  if (::write(fd.get(), data.data(), data.size()) != static_cast<ssize_t>(data.size())) {
    return sysError("write " + o_.randomDevice);
  }
  return okStatus();
}

void GuestServices::guestDetails(const grpc::GuestDetailsRequest& req,
                                 grpc::GuestDetailsResponse* resp) {
  if (req.mem_block_size()) {
    auto size = memBlockSize(sysPath("devices/system/memory/block_size_bytes"));
    if (size.ok()) resp->set_mem_block_size_bytes(*size);
  }
  if (req.mem_hotplug_probe()) {
    resp->set_support_mem_hotplug_probe(
        ::access(sysPath("devices/system/memory/probe").c_str(), W_OK) == 0);
  }
  auto* d = resp->mutable_agent_details();
  d->set_version(kata::kVersion);
  d->set_init_daemon(o_.guestMode);
  for (const char* h : {"9p", "virtio-fs", "ephemeral", "local"}) d->add_storage_handlers(h);
  d->set_supports_seccomp(true);
}

Status GuestServices::copyFile(const grpc::CopyFileRequest& req) {
  const std::string& path = req.path();
  std::string prefix = o_.copyRoot + "/";
  if (path.size() > 4096 || path.find('\0') != std::string::npos) {
    return makeError("CopyFile path is too long or holds a NUL byte", EINVAL);
  }
  if (path.rfind(prefix, 0) != 0 || path.size() == prefix.size() || path.back() == '/') {
    return makeError("CopyFile path " + path.substr(0, 256) + " is not a file under " + prefix,
                     EINVAL);
  }
  std::string rel = path.substr(prefix.size());
  for (size_t start = 0; start <= rel.size();) {
    size_t end = rel.find('/', start);
    if (end == std::string::npos) end = rel.size();
    std::string part = rel.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") {
      return makeError("CopyFile path " + path.substr(0, 256) + " has an empty, . or .. component",
                       EINVAL);
    }
    start = end + 1;
  }
  if (req.file_size() < 0 || req.file_size() > kMaxCopySize || req.offset() < 0 ||
      req.data().size() > kMaxCopyChunk ||
      req.offset() + static_cast<int64_t>(req.data().size()) > req.file_size()) {
    return makeError("CopyFile: offset " + std::to_string(req.offset()) + " + " +
                         std::to_string(req.data().size()) + " bytes exceeds file_size " +
                         std::to_string(req.file_size()),
                     EINVAL);
  }
  if ((req.file_mode() & ~07777u) != 0 && (req.file_mode() & S_IFMT) != S_IFREG) {
    return makeError("CopyFile file_mode is not a regular file mode", EINVAL);
  }
  mode_t mode = req.file_mode() ? (req.file_mode() & 07777) : 0644;
  mode_t dirMode = req.dir_mode() ? (req.dir_mode() & 07777) : 0755;

  KATA_TRY(mkdirAll(o_.copyRoot, 0755));
  KATA_ASSIGN_OR_RETURN(auto root, safepath::openRoot(o_.copyRoot));
  auto slash = rel.rfind('/');
  std::string dirRel = slash == std::string::npos ? "" : rel.substr(0, slash);
  std::string base = rel.substr(slash == std::string::npos ? 0 : slash + 1);
  std::string tmpName = base + ".tmp";
  if (!dirRel.empty()) KATA_TRY_CTX(safepath::mkdirAllInRoot(root.get(), dirRel, dirMode), path);
  // The directory is resolved inside the root: a symlink on the way cannot lead outside.
  KATA_ASSIGN_OR_RETURN(auto dir, safepath::openInRoot(root.get(), dirRel, O_PATH | O_DIRECTORY));
  UniqueFd dirFd(::openat(dir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dirFd) return sysError("open directory of " + path);
  int flags = O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (req.offset() == 0 ? O_TRUNC : 0);
  UniqueFd fd(::openat(dirFd.get(), tmpName.c_str(), flags, 0600));
  if (!fd) return sysError("open " + path + ".tmp");
  const std::string& data = req.data();
  if (!data.empty() && ::pwrite(fd.get(), data.data(), data.size(), req.offset()) !=
                           static_cast<ssize_t>(data.size())) {
    return sysError("write " + path + ".tmp");
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return sysError("stat " + path + ".tmp");
  if (st.st_size < req.file_size()) return okStatus();  // more chunks to come
  if (::fchown(fd.get(), static_cast<uid_t>(req.uid()), static_cast<gid_t>(req.gid())) != 0 ||
      ::fchmod(fd.get(), mode) != 0) {
    return sysError("set owner and mode of " + path);
  }
  // The complete file replaces the old one in one step.
  if (::renameat(dirFd.get(), tmpName.c_str(), dirFd.get(), base.c_str()) != 0) {
    return sysError("rename " + path + ".tmp");
  }
  return okStatus();
}

}  // namespace kata::agent
