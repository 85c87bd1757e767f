#include "runtime/virtcontainers/spec_convert.h"

#include <string_view>
#include <utility>

#include "lib/log.h"

namespace kata::vc {
namespace {

template <class Repeated>
void copyStrings(const std::vector<std::string>& from, Repeated* to) {
  for (const auto& s : from) to->Add(std::string(s));
}

::grpc::LinuxThrottleDevice throttle(const oci::ThrottleDevice& d) {
  ::grpc::LinuxThrottleDevice t;
  t.set_major(d.major);
  t.set_minor(d.minor);
  t.set_rate(d.rate);
  return t;
}

// Character devices that every Linux kernel numbers alike (the kernel's devices.txt): null,
// zero, full, random, urandom, tty, console, ptmx, net/tun, fuse. The guest's node of the same
// number is the same kind of device as the host's, so a spec may list them.
bool isStandardDevice(std::string_view type, int64_t major, int64_t minor) {
  if (type != "c" && type != "u") return false;
  static constexpr std::pair<int64_t, int64_t> kStandard[] = {
      {1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}, {5, 1}, {5, 2}, {10, 200}, {10, 229}};
  for (const auto& [ma, mi] : kStandard)
    if (major == ma && minor == mi) return true;
  return false;
}

// A device cgroup rule that allows every access to every device (docker --privileged writes
// exactly this one).
bool allowsEveryDevice(bool allow, std::string_view type, bool anyMajor, bool anyMinor,
                       std::string_view access) {
  return allow && (type.empty() || type == "a") && anyMajor && anyMinor &&
         access.find('r') != access.npos && access.find('w') != access.npos &&
         access.find('m') != access.npos;
}

// docker --privileged: its host devices are replaced by the guest's (constrainForGuest).
bool privilegedDevices(const oci::Spec& s) {
  if (!s.linux || !s.linux->resources) return false;
  for (const auto& r : s.linux->resources->devices)
    if (allowsEveryDevice(r.allow, r.type, !r.major, !r.minor, r.access)) return true;
  return false;
}

bool hasNamespace(const oci::Spec& s, std::string_view type) {
  if (!s.linux) return false;
  for (const auto& ns : s.linux->namespaces)
    if (ns.type == type) return true;
  return false;
}

}  // namespace

Status checkGuestCanHonour(const oci::Process& p) {
  // The host's security modules cannot confine a process in the guest's kernel, which has
  // neither; the VM is the container's confinement. Ignored as upstream Kata does, so that
  // Docker on an AppArmor or SELinux host (which always sets them) keeps working.
  if (!p.apparmorProfile.empty() && p.apparmorProfile != "unconfined")
    log::warn("process.apparmorProfile is ignored (\"" + p.apparmorProfile.substr(0, 64) +
              "\"): the guest kernel has no AppArmor; the VM confines the container");
  if (!p.selinuxLabel.empty())
    log::warn(
        "process.selinuxLabel is ignored: the guest kernel has no SELinux; the VM "
        "confines the container");
  return okStatus();
}

Status checkGuestCanHonour(const oci::Spec& s) {
  if (s.process) KATA_TRY(checkGuestCanHonour(*s.process));
  const std::pair<const char*, const std::vector<oci::Hook>*> inGuest[] = {
      {"createContainer", &s.hooks.createContainer}, {"startContainer", &s.hooks.startContainer}};
  for (const auto& [kind, hooks] : inGuest) {
    if (!hooks->empty()) {
      return makeError(std::string("hooks.") + kind +
                           ": these hooks run in the container's namespaces, inside the VM, where "
                           "the host's hook programs are not",
                       EINVAL);
    }
  }
  // Without these namespaces the container would share the host's; the VM has its own kernel
  // and cannot. Docker leaves them out for its "host" modes.
  const std::pair<const char*, const char*> hostModes[] = {
      {"network", "network"}, {"pid", "pid"}, {"ipc", "ipc"}};
  for (const auto& [type, option] : hostModes) {
    if (!hasNamespace(s, type)) {
      // A rootless spec (runc spec --rootless) shares the host's network because an
      // unprivileged runc cannot configure another; the guest gives it loopback only.
      if (std::string_view(type) == "network" && hasNamespace(s, "user")) {
        log::warn(
            "linux.namespaces: no network namespace in a user namespace (a rootless "
            "spec): the container gets the guest's loopback only, not the host's network");
        continue;
      }
      return makeError(std::string("linux.namespaces: no ") + type +
                           " namespace: the host's cannot be shared with a VM (docker --" + option +
                           " host)",
                       EINVAL);
    }
  }
  const oci::Linux& l = *s.linux;
  if (!privilegedDevices(s)) {
    for (const auto& d : l.devices) {
      if (!isStandardDevice(d.type, d.major, d.minor)) {
        return makeError("linux.devices: " + d.path.substr(0, 256) +
                             ": a host device cannot enter the VM (docker --device)",
                         EINVAL);
      }
    }
  }
  if (!l.mountLabel.empty())
    log::warn("linux.mountLabel is ignored: the guest kernel has no SELinux");
  if (l.intelRdt) {
    return makeError("linux.intelRdt: the guest has no Intel RDT (resctrl)", EINVAL);
  }
  if (l.resources && !l.resources->unified.empty()) {
    return makeError("linux.resources.unified: the guest's cgroups are v1", EINVAL);
  }
  if (l.resources && l.resources->memory && l.resources->memory->kernel.value_or(0) != 0) {
    log::warn("linux.resources.memory.kernel is ignored (as runc ignores it)");
  }
  return okStatus();
}

::grpc::Process toAgentProcess(const oci::Process& p) {
  ::grpc::Process out;
  out.set_terminal(p.terminal);
  if (p.consoleSize) {
    out.mutable_consolesize()->set_height(p.consoleSize->height);
    out.mutable_consolesize()->set_width(p.consoleSize->width);
  }
  auto* user = out.mutable_user();
  user->set_uid(p.user.uid);
  user->set_gid(p.user.gid);
  for (uint32_t g : p.user.additionalGids) user->add_additionalgids(g);
  user->set_username(p.user.username);
  if (p.user.umask) user->set_umask(*p.user.umask);
  copyStrings(p.args, out.mutable_args());
  copyStrings(p.env, out.mutable_env());
  out.set_cwd(p.cwd);
  if (p.capabilities) {
    auto* caps = out.mutable_capabilities();
    copyStrings(p.capabilities->bounding, caps->mutable_bounding());
    copyStrings(p.capabilities->effective, caps->mutable_effective());
    copyStrings(p.capabilities->inheritable, caps->mutable_inheritable());
    copyStrings(p.capabilities->permitted, caps->mutable_permitted());
    copyStrings(p.capabilities->ambient, caps->mutable_ambient());
  }
  for (const auto& r : p.rlimits) {
    auto* rl = out.add_rlimits();
    rl->set_type(r.type);
    rl->set_hard(r.hard);
    rl->set_soft(r.soft);
  }
  out.set_nonewprivileges(p.noNewPrivileges);
  out.set_apparmorprofile(p.apparmorProfile);
  if (p.oomScoreAdj) out.set_oomscoreadj(*p.oomScoreAdj);
  out.set_selinuxlabel(p.selinuxLabel);
  return out;
}

::grpc::LinuxResources toAgentResources(const oci::Resources& r) {
  ::grpc::LinuxResources out;
  for (const auto& d : r.devices) {
    auto* dev = out.add_devices();
    dev->set_allow(d.allow);
    dev->set_type(d.type);
    dev->set_major(d.major.value_or(-1));  // -1 is the agent's wildcard
    dev->set_minor(d.minor.value_or(-1));
    dev->set_access(d.access);
  }
  if (r.memory) {
    auto* m = out.mutable_memory();
    m->set_limit(r.memory->limit.value_or(0));
    m->set_reservation(r.memory->reservation.value_or(0));
    m->set_swap(r.memory->swap.value_or(0));
    m->set_kernel(r.memory->kernel.value_or(0));
    m->set_kerneltcp(r.memory->kernelTCP.value_or(0));
    m->set_swappiness(r.memory->swappiness.value_or(0));
    m->set_disableoomkiller(r.memory->disableOOMKiller.value_or(false));
  }
  if (r.cpu) {
    auto* c = out.mutable_cpu();
    c->set_shares(r.cpu->shares.value_or(0));
    c->set_quota(r.cpu->quota.value_or(0));
    c->set_period(r.cpu->period.value_or(0));
    c->set_realtimeruntime(r.cpu->realtimeRuntime.value_or(0));
    c->set_realtimeperiod(r.cpu->realtimePeriod.value_or(0));
    // Not the cpuset: it names host CPUs. The VM has as many vCPUs as it lists (sizeVm), all
    // of them the container's, and the host cgroup pins QEMU to the CPUs themselves.
  }
  if (r.pids) out.mutable_pids()->set_limit(r.pids->limit);
  if (r.blockIO) {
    auto* b = out.mutable_blockio();
    b->set_weight(r.blockIO->weight.value_or(0));
    b->set_leafweight(r.blockIO->leafWeight.value_or(0));
    for (const auto& w : r.blockIO->weightDevice) {
      auto* wd = b->add_weightdevice();
      wd->set_major(w.major);
      wd->set_minor(w.minor);
      wd->set_weight(w.weight.value_or(0));
      wd->set_leafweight(w.leafWeight.value_or(0));
    }
    for (const auto& t : r.blockIO->throttleReadBpsDevice)
      *b->add_throttlereadbpsdevice() = throttle(t);
    for (const auto& t : r.blockIO->throttleWriteBpsDevice)
      *b->add_throttlewritebpsdevice() = throttle(t);
    for (const auto& t : r.blockIO->throttleReadIOPSDevice)
      *b->add_throttlereadiopsdevice() = throttle(t);
    for (const auto& t : r.blockIO->throttleWriteIOPSDevice)
      *b->add_throttlewriteiopsdevice() = throttle(t);
  }
  for (const auto& h : r.hugepageLimits) {
    auto* hl = out.add_hugepagelimits();
    hl->set_pagesize(h.pageSize);
    hl->set_limit(h.limit);
  }
  if (r.network) {
    auto* n = out.mutable_network();
    n->set_classid(r.network->classID.value_or(0));
    for (const auto& p : r.network->priorities) {
      auto* ip = n->add_priorities();
      ip->set_name(p.name);
      ip->set_priority(p.priority);
    }
  }
  return out;
}

::grpc::Spec toAgentSpec(const oci::Spec& s) {
  ::grpc::Spec out;
  out.set_version(s.ociVersion);
  if (s.process) *out.mutable_process() = toAgentProcess(*s.process);
  out.mutable_root()->set_path(s.root.path);
  out.mutable_root()->set_readonly(s.root.readonly);
  out.set_hostname(s.hostname);
  for (const auto& m : s.mounts) {
    auto* mm = out.add_mounts();
    mm->set_destination(m.destination);
    mm->set_source(m.source);
    mm->set_type(m.type);
    copyStrings(m.options, mm->mutable_options());
  }
  // Hooks run on the host (the runtime runs them); the guest never sees host paths.
  for (const auto& [k, v] : s.annotations) (*out.mutable_annotations())[k] = v;
  if (s.linux) {
    const oci::Linux& l = *s.linux;
    auto* ol = out.mutable_linux();
    for (const auto& m : l.uidMappings) {
      auto* x = ol->add_uidmappings();
      x->set_hostid(m.hostID);
      x->set_containerid(m.containerID);
      x->set_size(m.size);
    }
    for (const auto& m : l.gidMappings) {
      auto* x = ol->add_gidmappings();
      x->set_hostid(m.hostID);
      x->set_containerid(m.containerID);
      x->set_size(m.size);
    }
    for (const auto& [k, v] : l.sysctl) (*ol->mutable_sysctl())[k] = v;
    if (l.resources) *ol->mutable_resources() = toAgentResources(*l.resources);
    ol->set_cgroupspath(l.cgroupsPath);
    for (const auto& ns : l.namespaces) {
      auto* n = ol->add_namespaces();
      n->set_type(ns.type);
      n->set_path(ns.path);
    }
    for (const auto& d : l.devices) {
      auto* dev = ol->add_devices();
      dev->set_path(d.path);
      dev->set_type(d.type);
      dev->set_major(d.major);
      dev->set_minor(d.minor);
      dev->set_filemode(d.fileMode.value_or(0666));
      dev->set_uid(d.uid.value_or(0));
      dev->set_gid(d.gid.value_or(0));
    }
    if (l.seccomp) {
      auto* sc = ol->mutable_seccomp();
      sc->set_defaultaction(l.seccomp->defaultAction);
      if (l.seccomp->defaultErrnoRet) sc->set_defaulterrnoret(*l.seccomp->defaultErrnoRet);
      copyStrings(l.seccomp->architectures, sc->mutable_architectures());
      copyStrings(l.seccomp->flags, sc->mutable_flags());
      for (const auto& rule : l.seccomp->syscalls) {
        auto* r = sc->add_syscalls();
        copyStrings(rule.names, r->mutable_names());
        r->set_action(rule.action);
        if (rule.errnoRet) r->set_errnoret(*rule.errnoRet);
        for (const auto& a : rule.args) {
          auto* arg = r->add_args();
          arg->set_index(a.index);
          arg->set_value(a.value);
          arg->set_valuetwo(a.valueTwo);
          arg->set_op(a.op);
        }
      }
    }
    ol->set_rootfspropagation(l.rootfsPropagation);
    copyStrings(l.maskedPaths, ol->mutable_maskedpaths());
    copyStrings(l.readonlyPaths, ol->mutable_readonlypaths());
    ol->set_mountlabel(l.mountLabel);
    if (l.intelRdt) ol->mutable_intelrdt()->set_l3cacheschema(l.intelRdt->l3CacheSchema);
    if (l.personality) {
      ol->mutable_personality()->set_domain(l.personality->domain);
      copyStrings(l.personality->flags, ol->mutable_personality()->mutable_flags());
    }
  }
  return out;
}

void constrainForGuest(::grpc::Spec& spec, const std::string& containerId) {
  // Host security labels mean nothing to the guest's kernel (checkGuestCanHonour warned).
  if (spec.has_process()) {
    spec.mutable_process()->clear_selinuxlabel();
    spec.mutable_process()->clear_apparmorprofile();
  }
  if (!spec.has_linux()) return;
  auto* l = spec.mutable_linux();
  l->clear_mountlabel();
  // Host devices cannot enter the VM (checkGuestCanHonour refused them unless every device is
  // allowed): a privileged container gets the guest's devices instead, listed by the agent.
  spec.mutable_annotations()->erase(kGuestDevicesAnnotation);
  bool privileged = false;
  for (const auto& r : l->resources().devices())
    privileged = privileged || allowsEveryDevice(r.allow(), r.type(), r.major() == -1,
                                                 r.minor() == -1, r.access());
  if (privileged) {
    ::google::protobuf::RepeatedPtrField<::grpc::LinuxDevice> standard;
    for (const auto& d : l->devices())
      if (isStandardDevice(d.type(), d.major(), d.minor())) *standard.Add() = d;
    l->mutable_devices()->Swap(&standard);
    (*spec.mutable_annotations())[kGuestDevicesAnnotation] = "all";
  }
  ::google::protobuf::RepeatedPtrField<::grpc::LinuxNamespace> kept;
  for (const auto& ns : l->namespaces()) {
    if (ns.type() == "network" || ns.type() == "pid") continue;
    ::grpc::LinuxNamespace n = ns;
    n.clear_path();
    *kept.Add() = n;
  }
  l->mutable_namespaces()->Swap(&kept);
  // Guest cgroups live under /kata; systemd-style "slice:prefix:name" paths mean nothing there.
  if (l->cgroupspath().find(':') != std::string::npos || l->cgroupspath().empty())
    l->set_cgroupspath("/kata/" + containerId);
}

std::string specNetns(const oci::Spec& spec) {
  if (!spec.linux) return "";
  for (const auto& ns : spec.linux->namespaces)
    if (ns.type == "network") return ns.path;
  return "";
}

bool sharesSandboxPidNamespace(const oci::Spec& spec) {
  if (!spec.linux) return false;
  for (const auto& ns : spec.linux->namespaces)
    if (ns.type == "pid" && !ns.path.empty()) return true;
  return false;
}

}  // namespace kata::vc
