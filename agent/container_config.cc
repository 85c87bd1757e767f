#include "agent/container_config.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <map>
#include <memory>
#include <set>

#include "agent/cgroups.h"
#include "agent/namespaces.h"
#include "agent/seccomp.h"
#include "lib/log.h"
#include "lib/unique_fd.h"
#include "protocols/agent.pb.h"
#include "protocols/oci.pb.h"

namespace kata::agent {

namespace {

constexpr size_t kMaxListItems = 4096;
constexpr size_t kMaxStringBytes = 128 * 1024;

template <class List>
Status checkListSize(const List& list, const std::string& what) {
  if (static_cast<size_t>(list.size()) > kMaxListItems) {
    return makeError(what + ": more than " + std::to_string(kMaxListItems) + " entries", EINVAL);
  }
  return okStatus();
}

Status checkString(const std::string& s, const std::string& what) {
  if (s.size() > kMaxStringBytes) return makeError(what + ": too long", EINVAL);
  if (s.find('\0') != std::string::npos) return makeError(what + ": contains a NUL byte", EINVAL);
  return okStatus();
}

Result<int> rlimitResource(const std::string& name) {
  static const std::map<std::string, int> names = {{"RLIMIT_AS", RLIMIT_AS},
                                                   {"RLIMIT_CORE", RLIMIT_CORE},
                                                   {"RLIMIT_CPU", RLIMIT_CPU},
                                                   {"RLIMIT_DATA", RLIMIT_DATA},
                                                   {"RLIMIT_FSIZE", RLIMIT_FSIZE},
                                                   {"RLIMIT_LOCKS", RLIMIT_LOCKS},
                                                   {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
                                                   {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
                                                   {"RLIMIT_NICE", RLIMIT_NICE},
                                                   {"RLIMIT_NOFILE", RLIMIT_NOFILE},
                                                   {"RLIMIT_NPROC", RLIMIT_NPROC},
                                                   {"RLIMIT_RSS", RLIMIT_RSS},
                                                   {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
                                                   {"RLIMIT_RTTIME", RLIMIT_RTTIME},
                                                   {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
                                                   {"RLIMIT_STACK", RLIMIT_STACK}};
  auto it = names.find(name);
  if (it == names.end()) {
    return makeError("rlimit type \"" + name.substr(0, 64) + "\" is unknown", EINVAL);
  }
  return it->second;
}

Result<unsigned long> parsePropagation(const std::string& p) {
  static const std::map<std::string, unsigned long> names = {
      {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
      {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
      {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
      {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC}};
  if (p.empty()) return 0ul;
  auto it = names.find(p);
  if (it == names.end()) {
    return makeError("rootfsPropagation \"" + p.substr(0, 64) + "\" is invalid", EINVAL);
  }
  return it->second;
}

Result<unsigned long> personalityOf(const grpc::LinuxPersonality& p) {
  if (!p.flags().empty()) {
    // The spec defines no flag values yet; runc ignores them too.
    log::warn("linux.personality.flags ignored: no flag is defined");
  }
  if (p.domain() == "LINUX") return static_cast<unsigned long>(PER_LINUX);
  if (p.domain() == "LINUX32") return static_cast<unsigned long>(PER_LINUX32);
  return makeError(
      "linux.personality.domain \"" + p.domain().substr(0, 64) + "\" is not LINUX or LINUX32",
      EINVAL);
}

/// The kernel takes at most 340 lines per map (since Linux 4.15).
Result<std::vector<IdMapping>> idMappings(
    const google::protobuf::RepeatedPtrField<grpc::LinuxIDMapping>& list, const std::string& what) {
  if (list.size() > 340) return makeError(what + ": more than 340 entries", EINVAL);
  std::vector<IdMapping> out;
  for (const auto& m : list) {
    if (m.size() == 0 || uint64_t{m.containerid()} + m.size() > (uint64_t{1} << 32) ||
        uint64_t{m.hostid()} + m.size() > (uint64_t{1} << 32)) {
      return makeError(what + ": an entry is empty or goes beyond 2^32", EINVAL);
    }
    out.push_back({m.containerid(), m.hostid(), m.size()});
  }
  return out;
}

bool pathExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

Result<std::string> containerRootfs(const grpc::CreateContainerRequest& req) {
  const std::string& given = req.oci().root().path();
  std::string root;
  if (given.empty()) {
    root = std::string(kSharedDir) + "/" + req.container_id() + "/rootfs";
  } else if (given[0] != '/') {
    root = std::string(kSharedDir) + "/" + req.container_id() + "/" + given;
  } else {
    root = given;
  }
  KATA_TRY(validateContainerPath(root, "OCI.Root.Path"));
  struct stat st;
  if (::stat(root.c_str(), &st) != 0) return sysError("container rootfs " + root);
  if (!S_ISDIR(st.st_mode))
    return makeError("container rootfs " + root + " is not a directory", ENOTDIR);
  return root;
}

const std::set<std::string>& supportedMountTypes() {
  static const std::set<std::string> types = {"bind",   "none",  "proc",   "sysfs",   "devpts",
                                              "mqueue", "tmpfs", "cgroup", "devtmpfs"};
  return types;
}

Status collectDevices(int dirFd, const std::string& shown, int depth,
                      std::vector<DeviceSpec>& out) {
  // A guest's /dev is a handful of levels deep (/dev/dri/by-path/...); deeper is a loop.
  if (depth > 8) return okStatus();
  UniqueFd own(::openat(dirFd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!own) return sysError("open " + shown);
  DIR* d = ::fdopendir(own.get());
  if (!d) return sysError("read " + shown);
  (void)own.release();  // the DIR owns it now
  std::unique_ptr<DIR, int (*)(DIR*)> dir(d, ::closedir);
  static const std::set<std::string> skipped = {".", "..", "pts", "shm", "fd", "mqueue", "console"};
  while (struct dirent* e = ::readdir(dir.get())) {
    std::string name = e->d_name;
    if (skipped.count(name)) continue;
    struct stat st;
    if (::fstatat(::dirfd(dir.get()), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    std::string path = shown + "/" + name;
    if (S_ISDIR(st.st_mode)) {
      UniqueFd sub(
          ::openat(::dirfd(dir.get()), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (sub) KATA_TRY(collectDevices(sub.get(), path, depth + 1, out));
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      out.push_back({path, st.st_mode & S_IFMT, major(st.st_rdev), minor(st.st_rdev),
                     st.st_mode & 07777, st.st_uid, st.st_gid});
    }
    if (out.size() > kMaxListItems) return makeError(shown + ": too many devices", E2BIG);
  }
  return okStatus();
}

}  // namespace

Result<std::vector<DeviceSpec>> listDevices(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return sysError("open " + dir);
  std::vector<DeviceSpec> out;
  KATA_TRY(collectDevices(fd.get(), "/dev", 0, out));
  return out;
}

Status validateContainerPath(const std::string& path, const std::string& what) {
  if (path.empty() || path[0] != '/') {
    return makeError(what + " \"" + path.substr(0, 256) + "\" must be an absolute path", EINVAL);
  }
  if (path.size() > 4096) return makeError(what + " is longer than 4096 bytes", ENAMETOOLONG);
  if (path.find('\0') != std::string::npos) return makeError(what + " contains a NUL byte", EINVAL);
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (path.compare(start, end - start, "..") == 0) {
      return makeError(what + " \"" + path.substr(0, 256) + "\" must not contain \"..\"", EINVAL);
    }
    start = end + 1;
  }
  return okStatus();
}

bool sysctlAllowed(const std::string& key, bool guestMode) {
  if (guestMode) return true;
  static const std::set<std::string> ipc = {
      "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
      "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"};
  return ipc.count(key) != 0 || key.rfind("fs.mqueue.", 0) == 0 || key == "kernel.hostname" ||
         key == "kernel.domainname";
}

Result<ProcessSpec> buildProcessSpec(const grpc::Process& p, const grpc::StringUser* stringUser,
                                     const std::string& rootfs, const SeccompProgram& seccomp) {
  ProcessSpec out;
  if (p.args().empty()) return makeError("process.args must not be empty", EINVAL);
  KATA_TRY(checkListSize(p.args(), "process.args"));
  KATA_TRY(checkListSize(p.env(), "process.env"));
  for (const auto& a : p.args()) {
    KATA_TRY(checkString(a, "process.args"));
    out.args.push_back(a);
  }
  if (out.args[0].empty()) return makeError("process.args[0] must not be empty", EINVAL);
  bool hasHome = false;
  for (const auto& e : p.env()) {
    KATA_TRY(checkString(e, "process.env"));
    if (e.find('=') == std::string::npos) {
      return makeError("process.env entry \"" + e.substr(0, 64) + "\" is not KEY=VALUE", EINVAL);
    }
    if (e.rfind("HOME=", 0) == 0) hasHome = true;
    out.env.push_back(e);
  }
  out.cwd = p.cwd().empty() ? "/" : p.cwd();
  KATA_TRY(validateContainerPath(out.cwd, "process.cwd"));
  out.terminal = p.terminal();
  if (p.has_consolesize()) {
    out.rows = p.consolesize().height();
    out.cols = p.consolesize().width();
  }

  UserRequest ur;
  ur.uid = p.user().uid();
  ur.gid = p.user().gid();
  ur.additionalGids.assign(p.user().additionalgids().begin(), p.user().additionalgids().end());
  if (!p.user().username().empty()) ur.uidString = p.user().username();
  if (stringUser) {
    if (!stringUser->uid().empty()) ur.uidString = stringUser->uid();
    ur.gidString = stringUser->gid();
    KATA_TRY(checkListSize(stringUser->additionalgids(), "string_user.additionalGids"));
    ur.additionalGidStrings.assign(stringUser->additionalgids().begin(),
                                   stringUser->additionalgids().end());
  }
  KATA_TRY(checkString(ur.uidString, "user"));
  KATA_TRY(checkString(ur.gidString, "group"));
  KATA_ASSIGN_OR_RETURN(out.user, resolveUserInRootfs(rootfs, ur));
  if (!hasHome) out.env.push_back("HOME=" + out.user.home);

  // Labels of the host's security modules, which the guest kernel has not: ignored, as
  // upstream's agent does (our runtime drops them with a warning; this is for other runtimes).
  if (!p.apparmorprofile().empty() && p.apparmorprofile() != "unconfined")
    log::warn("process.apparmorProfile ignored: the guest kernel has no AppArmor");
  if (!p.selinuxlabel().empty())
    log::warn("process.selinuxLabel ignored: the guest kernel has no SELinux");
  if (p.user().has_umask()) {
    if (p.user().umask() > 0777) return makeError("process.user.umask is above 0777", EINVAL);
    out.umask = static_cast<mode_t>(p.user().umask());
  }
  if (p.has_capabilities()) {
    std::vector<std::string> unknown;
    KATA_ASSIGN_OR_RETURN(out.caps, parseCapabilities(p.capabilities(), &unknown));
    for (const auto& u : unknown) log::warn("unknown capability ignored", {{"capability", u}});
    for (const auto& a : dropUnraisableAmbient(out.caps)) {
      log::warn("ambient capability not raised: it is not both permitted and inheritable",
                {{"capability", a}});
    }
  }
  out.noNewPrivileges = p.nonewprivileges();
  KATA_TRY(checkListSize(p.rlimits(), "process.rlimits"));
  for (const auto& r : p.rlimits()) {
    KATA_ASSIGN_OR_RETURN(int res, rlimitResource(r.type()));
    if (r.soft() > r.hard()) {
      return makeError("rlimit " + r.type() + ": soft limit above hard limit", EINVAL);
    }
    out.rlimits.push_back({res, static_cast<rlim_t>(r.soft()), static_cast<rlim_t>(r.hard())});
  }
  if (p.oomscoreadj() < -1000 || p.oomscoreadj() > 1000) {
    return makeError("process.oomScoreAdj must be within [-1000, 1000]", EINVAL);
  }
  out.oomScoreAdj = static_cast<int>(p.oomscoreadj());
  out.seccomp = seccomp;
  return out;
}

Result<ContainerConfig> buildContainerConfig(const grpc::CreateContainerRequest& req,
                                             const SandboxContext& ctx) {
  ContainerConfig c;
  c.id = req.container_id();
  if (!req.has_oci()) return makeError("CreateContainer: OCI spec is missing", EINVAL);
  const auto& spec = req.oci();
  if (!spec.has_process()) return makeError("OCI.Process is missing", EINVAL);
  const auto& linux = spec.linux();

  if (!linux.mountlabel().empty())
    log::warn("linux.mountLabel ignored: the guest kernel has no SELinux");
  if (!linux.intelrdt().l3cacheschema().empty()) {
    return makeError("linux.intelRdt: the guest has no Intel RDT (resctrl)", EINVAL);
  }
  KATA_ASSIGN_OR_RETURN(c.rootfs.rootfs, containerRootfs(req));
  c.rootfs.readonly = spec.root().readonly();
  KATA_ASSIGN_OR_RETURN(c.rootfs.propagation, parsePropagation(linux.rootfspropagation()));

  // Namespaces. The network namespace is always the VM's (the sandbox's): containers of a pod
  // share the interfaces the runtime hot-plugged.
  std::set<int> seen;
  bool newUts = false;
  KATA_TRY(checkListSize(linux.namespaces(), "linux.namespaces"));
  for (const auto& ns : linux.namespaces()) {
    KATA_ASSIGN_OR_RETURN(int flag, namespaceFlag(ns.type()));
    if (!seen.insert(flag).second) {
      return makeError("namespace \"" + ns.type() + "\" is listed twice", EINVAL);
    }
    if (flag == CLONE_NEWUSER && !ns.path().empty()) {
      return makeError("joining a user namespace (linux.namespaces path) is not supported", EINVAL);
    }
    if (flag == CLONE_NEWNET) continue;
    if (flag == CLONE_NEWCGROUP) {
      if (!ns.path().empty()) return makeError("joining a cgroup namespace is not supported");
      c.newCgroupNamespace = true;
      continue;
    }
    NamespaceSpec n{flag, ns.path()};
    if (flag == CLONE_NEWPID && req.sandbox_pidns() && !ctx.sharedPidNs.empty()) {
      n.path = ctx.sharedPidNs;
    }
    if (!n.path.empty()) {
      KATA_TRY(validateContainerPath(n.path, "namespace path"));
      if (!pathExists(n.path)) {
        return makeError("namespace path " + n.path + " does not exist", ENOENT);
      }
    }
    if (flag == CLONE_NEWUTS && n.path.empty()) newUts = true;
    c.namespaces.push_back(std::move(n));
  }
  if (!seen.count(CLONE_NEWPID)) {
    // Upstream's runtime removes the pid namespace from the spec and upstream's agent always
    // gives the container one (new, or the sandbox's): never the agent's own.
    c.namespaces.push_back({CLONE_NEWPID, req.sandbox_pidns() ? ctx.sharedPidNs : ""});
  }
  KATA_ASSIGN_OR_RETURN(c.uidMappings, idMappings(linux.uidmappings(), "linux.uidMappings"));
  KATA_ASSIGN_OR_RETURN(c.gidMappings, idMappings(linux.gidmappings(), "linux.gidMappings"));
  if (seen.count(CLONE_NEWUSER)) {
    // As runc: a user namespace needs both maps; mappings without one are a mistake.
    if (c.uidMappings.empty() || c.gidMappings.empty()) {
      return makeError("a user namespace needs linux.uidMappings and linux.gidMappings", EINVAL);
    }
    c.rootfs.inUserNamespace = true;
  } else if (!c.uidMappings.empty() || !c.gidMappings.empty()) {
    return makeError("linux.uidMappings/gidMappings need a user namespace", EINVAL);
  }
  if (!seen.count(CLONE_NEWNS)) {
    // The container's mounts and pivot_root must never touch the agent's own view.
    c.namespaces.push_back({CLONE_NEWNS, ""});
  }
  if (!spec.hostname().empty()) {
    KATA_TRY(checkString(spec.hostname(), "OCI.Hostname"));
    if (spec.hostname().size() > 64) return makeError("OCI.Hostname is longer than 64", EINVAL);
    if (newUts) c.rootfs.hostname = spec.hostname();
  }

  // Mounts.
  KATA_TRY(checkListSize(spec.mounts(), "OCI.Mounts"));
  for (const auto& m : spec.mounts()) {
    MountSpec ms;
    ms.destination = m.destination();
    KATA_TRY(validateContainerPath(ms.destination, "mount destination"));
    for (const auto& o : m.options()) KATA_TRY(checkString(o, "mount option"));
    ms.options = mount::parseMountOptions({m.options().begin(), m.options().end()});
    ms.type = m.type().empty() ? "none" : m.type();
    if (!supportedMountTypes().count(ms.type)) {
      return makeError(
          "mount " + ms.destination + ": type \"" + ms.type.substr(0, 64) + "\" is not supported",
          EINVAL);
    }
    if (ms.type == "bind" || ms.type == "none") ms.options.flags |= MS_BIND;
    ms.source = m.source();
    if (ms.options.bind()) {
      ms.type = "bind";
      KATA_TRY(validateContainerPath(ms.source, "mount source of " + ms.destination));
      if (!pathExists(ms.source)) {
        return makeError("mount source " + ms.source + " does not exist", ENOENT);
      }
    } else {
      KATA_TRY(checkString(ms.source, "mount source"));
    }
    c.rootfs.mounts.push_back(std::move(ms));
  }

  // Devices.
  KATA_TRY(checkListSize(linux.devices(), "linux.devices"));
  for (const auto& d : linux.devices()) {
    DeviceSpec ds;
    ds.path = d.path();
    KATA_TRY(validateContainerPath(ds.path, "device path"));
    if (d.type() == "c" || d.type() == "u") {
      ds.fileType = S_IFCHR;
    } else if (d.type() == "b") {
      ds.fileType = S_IFBLK;
    } else if (d.type() == "p") {
      ds.fileType = S_IFIFO;
    } else {
      return makeError("device " + ds.path + ": type \"" + d.type().substr(0, 8) + "\" is invalid",
                       EINVAL);
    }
    if (d.major() < 0 || d.minor() < 0 || d.major() > 0xfff || d.minor() > 0xfffff) {
      return makeError("device " + ds.path + ": major/minor out of range", EINVAL);
    }
    ds.major = static_cast<unsigned>(d.major());
    ds.minor = static_cast<unsigned>(d.minor());
    ds.mode = d.filemode() ? (d.filemode() & 07777) : 0666;
    ds.uid = d.uid();
    ds.gid = d.gid();
    c.rootfs.devices.push_back(std::move(ds));
  }
  if (auto a = spec.annotations().find(kGuestDevicesAnnotation); a != spec.annotations().end()) {
    if (a->second != "all") {
      return makeError(std::string("annotation ") + kGuestDevicesAnnotation + " must be \"all\"",
                       EINVAL);
    }
    // After the spec's own: a spec device of the same path is made first and wins.
    KATA_ASSIGN_OR_RETURN(auto guest, listDevices("/dev"));
    c.rootfs.devices.insert(c.rootfs.devices.end(), guest.begin(), guest.end());
  }

  KATA_TRY(checkListSize(linux.maskedpaths(), "linux.maskedPaths"));
  for (const auto& p : linux.maskedpaths()) {
    KATA_TRY(validateContainerPath(p, "masked path"));
    c.rootfs.maskedPaths.push_back(p);
  }
  KATA_TRY(checkListSize(linux.readonlypaths(), "linux.readonlyPaths"));
  for (const auto& p : linux.readonlypaths()) {
    KATA_TRY(validateContainerPath(p, "read-only path"));
    c.rootfs.readonlyPaths.push_back(p);
  }
  for (const auto& [key, value] : linux.sysctl()) {
    if (key.empty() || key.size() > 256 ||
        key.find_first_not_of(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
            std::string::npos ||
        key.find("..") != std::string::npos || key[0] == '.') {
      return makeError("sysctl \"" + key.substr(0, 64) + "\" is not a valid name", EINVAL);
    }
    KATA_TRY(checkString(value, "sysctl " + key));
    if (!sysctlAllowed(key, ctx.guestMode)) {
      return makeError("sysctl \"" + key + "\" is not namespaced and would change the host", EPERM);
    }
    c.rootfs.sysctls.emplace_back(key, value);
  }
  KATA_ASSIGN_OR_RETURN(c.cgroupPath, normalizeCgroupPath(linux.cgroupspath(), c.id));

  SeccompProgram seccomp;
  if (linux.has_seccomp() && !linux.seccomp().defaultaction().empty()) {
    std::vector<std::string> skipped;
    KATA_ASSIGN_OR_RETURN(seccomp, compileSeccomp(linux.seccomp(), &skipped));
    if (!skipped.empty()) {
      log::debug("seccomp: syscalls unknown to this kernel skipped",
                 {{"count", std::to_string(skipped.size())}});
    }
  }
  const grpc::StringUser* su = req.has_string_user() ? &req.string_user() : nullptr;
  KATA_ASSIGN_OR_RETURN(c.process, buildProcessSpec(spec.process(), su, c.rootfs.rootfs, seccomp));
  if (linux.has_personality()) {
    KATA_ASSIGN_OR_RETURN(c.process.personality, personalityOf(linux.personality()));
  }
  return c;
}

}  // namespace kata::agent
