#include "runtime/virtcontainers/container.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>

#include "lib/container_id.h"
#include "lib/crash_point.h"
#include "lib/fs_util.h"
#include "lib/log.h"
#include "lib/safe_path.h"
#include "runtime/virtcontainers/host_cgroup.h"
#include "runtime/virtcontainers/rollback.h"
#include "runtime/virtcontainers/sandbox.h"
#include "runtime/virtcontainers/shared_dir.h"
#include "runtime/virtcontainers/spec_convert.h"

namespace kata::vc {

namespace {

bool hasOption(const std::vector<std::string>& opts, const char* o) {
  return std::find(opts.begin(), opts.end(), o) != opts.end();
}

bool isBindMount(const oci::Mount& m) {
  return m.type == "bind" || hasOption(m.options, "bind") || hasOption(m.options, "rbind");
}

// True when `path` is `dir` or below it (both absolute, lexically clean).
bool isUnder(const std::string& path, const std::string& dir) {
  if (dir == "/") return true;
  return path.compare(0, dir.size(), dir) == 0 &&
         (path.size() == dir.size() || path[dir.size()] == '/');
}

// A mount point the agent will need in the container's rootfs.
struct MountPoint {
  std::string destination;
  bool directory = true;
};

// With root.readonly the rootfs is shared read-only on the host too, so the agent cannot create
// missing mount points in it: they are created here first, as runc creates them in a
// read-only rootfs before remounting it. Destinations below an earlier mount are created in
// that mount by the agent. Paths resolve inside the rootfs (safe_path): it is untrusted.
Status createMountPoints(const std::string& rootfs, const std::vector<MountPoint>& points) {
  KATA_ASSIGN_OR_RETURN(UniqueFd root, safepath::openRoot(rootfs));
  for (size_t i = 0; i < points.size(); i++) {
    const MountPoint& p = points[i];
    bool covered = false;
    for (size_t j = 0; j < i && !covered; j++)
      covered =
          p.destination != points[j].destination && isUnder(p.destination, points[j].destination);
    if (covered) continue;
    if (p.directory) {
      KATA_TRY_CTX(safepath::mkdirAllInRoot(root.get(), p.destination, 0755),
                   "mount point " + p.destination + " in the read-only rootfs");
      continue;
    }
    std::string parent = p.destination.substr(0, p.destination.rfind('/'));
    KATA_TRY_CTX(safepath::mkdirAllInRoot(root.get(), parent.empty() ? "/" : parent, 0755),
                 "mount point " + p.destination + " in the read-only rootfs");
    auto f = safepath::openInRoot(root.get(), p.destination, O_WRONLY | O_CREAT, 0644);
    if (!f.ok() && f.error().code != EISDIR)
      return std::move(f).error().wrap("mount point " + p.destination + " in the read-only rootfs");
  }
  return okStatus();
}

// The size of a host tmpfs bound on /dev/shm; Docker's default 64 MiB when it is not a tmpfs.
uint64_t shmSize(const std::string& source) {
  struct statfs sfs;
  if (statfs(source.c_str(), &sfs) == 0 && sfs.f_type == TMPFS_MAGIC && sfs.f_blocks > 0)
    return uint64_t(sfs.f_blocks) * uint64_t(sfs.f_bsize);
  return 64u << 20;
}

// Rewrites the OCI spec for the guest: rootfs and bind sources become paths in the share, and
// what the guest cannot take from a host spec goes (constrainForGuest). `mountPoints` gets the
// destination of every mount the guest will make.
Result<::grpc::Spec> guestSpec(const oci::Spec& spec, const std::string& sid,
                               const std::string& cid, bool guestSeccomp,
                               std::vector<std::string>& hostMounts,
                               std::vector<MountPoint>& mountPoints) {
  ::grpc::Spec g = toAgentSpec(spec);
  g.clear_mounts();
  for (const auto& m : spec.mounts) {
    ::grpc::Mount gm;
    gm.set_destination(m.destination);
    gm.set_type(m.type);
    gm.set_source(m.source);
    for (const auto& o : m.options) gm.add_options(o);
    bool directory = true;
    if (isBindMount(m)) {
      if (m.destination == "/dev/shm") {
        // Docker's per-container shm (--ipc shareable) is a host tmpfs of --shm-size bytes; a
        // guest tmpfs of the same size behaves the same.
        gm.set_type("tmpfs");
        gm.set_source("shm");
        gm.clear_options();
        for (const char* o : {"nosuid", "noexec", "nodev", "mode=1777"}) gm.add_options(o);
        gm.add_options("size=" + std::to_string(shmSize(m.source)));
      } else if (m.source == "/sys") {
        // runc's rootless spec binds the machine's sysfs: in a VM, the guest's.
        gm.set_type("bind");
      } else {
        // Host device and kernel trees are not shareable over 9p; devices reach a VM by
        // hotplug.
        KATA_ASSIGN_OR_RETURN(bool system, shared::isHostSystemPath(m.source));
        if (system) {
          log::warn("skipping bind mount of a host system path", {{"source", m.source}});
          continue;
        }
        KATA_ASSIGN_OR_RETURN(shared::SharedFile f,
                              shared::shareHostPath(sid, cid, m.source, hasOption(m.options, "ro"),
                                                    hasOption(m.options, "rbind")));
        hostMounts.push_back(f.hostMount);
        gm.set_source(f.guestPath);
        gm.set_type("bind");
        struct stat st;
        directory = stat(f.hostMount.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
      }
    }
    mountPoints.push_back({m.destination, directory});
    *g.add_mounts() = gm;
  }
  constrainForGuest(g, cid, guestSeccomp);
  return g;
}

// The VM keeps the vCPUs and memory it booted with (no hotplug): a limit it cannot give is
// refused before anything changes.
Status checkFitsVm(const SandboxState& s, const oci::Resources& r) {
  if (r.memory && r.memory->limit.value_or(0) > 0 && s.memoryMiB > 0) {
    int64_t mib = (*r.memory->limit + (1 << 20) - 1) >> 20;
    if (mib > s.memoryMiB)
      return makeError("update: a memory limit of " + std::to_string(mib) +
                           " MiB is more than the VM's " + std::to_string(s.memoryMiB) +
                           " MiB, and its memory cannot grow (no memory hotplug); nothing changed",
                       EINVAL);
  }
  if (r.cpu && r.cpu->quota.value_or(0) > 0 && r.cpu->period.value_or(0) > 0 && s.vcpus > 0) {
    uint64_t n = (uint64_t(*r.cpu->quota) + *r.cpu->period - 1) / *r.cpu->period;
    if (n > uint64_t(s.vcpus))
      return makeError("update: a CPU limit of " + std::to_string(n) +
                           " CPUs is more than the VM's " + std::to_string(s.vcpus) +
                           " vCPUs, and it cannot grow (no vCPU hotplug); nothing changed",
                       EINVAL);
  }
  return okStatus();
}

// A container has a few dozen memory.stat keys and one entry per CPU, block device operation,
// huge page size and interface. Tens of thousands come from a lying agent, and each costs the
// host far more memory as JSON than on the wire: refused before they are converted.
constexpr int kMaxStatsEntries = 4096;

Status checkStatsSize(const ::grpc::StatsContainerResponse& s) {
  const auto& cg = s.cgroup_stats();
  const auto& b = cg.blkio_stats();
  const std::pair<const char*, int> counts[] = {
      {"memory stats", cg.memory_stats().stats_size()},
      {"per-CPU usages", cg.cpu_stats().cpu_usage().percpu_usage_size()},
      {"huge page sizes", cg.hugetlb_stats_size()},
      {"network interfaces", s.network_stats_size()},
      {"block I/O entries", b.io_service_bytes_recursive_size() + b.io_serviced_recursive_size() +
                                b.io_queued_recursive_size() + b.io_service_time_recursive_size() +
                                b.io_wait_time_recursive_size() + b.io_merged_recursive_size() +
                                b.io_time_recursive_size() + b.sectors_recursive_size()},
  };
  for (const auto& [what, n] : counts) {
    if (n > kMaxStatsEntries)
      return makeError("agent StatsContainer: the reply has " + std::to_string(n) + " " + what +
                           " (at most " + std::to_string(kMaxStatsEntries) + ")",
                       EPROTO);
  }
  return okStatus();
}

}  // namespace

Status unshareAll(const std::string& sid, const std::string& cid,
                  const std::vector<std::string>& hostMounts) {
  Status first;
  for (auto it = hostMounts.rbegin(); it != hostMounts.rend(); ++it) {
    Status st = shared::unshare(sid, cid, *it);
    if (!st.ok() && first.ok()) first = std::move(st);
  }
  Status rest = shared::unshareContainer(sid, cid);
  return first.ok() ? rest : first;
}

Result<ContainerState> createContainerInSandbox(const SandboxState& sandbox,
                                                const ContainerRequest& req) {
  const oci::Spec& spec = *req.spec;
  const std::string& sid = sandbox.id;
  // The container's state dir is its claim on the id inside the sandbox: made exclusively, so
  // that a second create of the same id (from another --root, or a pod member's duplicate)
  // fails here instead of rolling back the first one's mounts and state.
  const std::string stateDir = StorePaths::sandboxDir(sid) + "/" + req.id;
  const auto& members = sandbox.containers;
  bool listed = std::find(members.begin(), members.end(), req.id) != members.end();
  if (listed || mkdir(stateDir.c_str(), 0700) != 0) {
    if (listed || errno == EEXIST)
      return makeError("container " + req.id + " already exists", EEXIST);
    return sysError("mkdir " + stateDir);
  }
  crashPoint("create:claimed");
  ContainerState c;
  c.id = req.id;
  c.sandboxId = sid;
  c.bundle = req.bundle;
  c.status = "created";
  c.terminal = spec.process && spec.process->terminal;
  c.created = log::timestamp();
  c.annotations = spec.annotations;
  Rollback undo;
  undo.add([&c, &sid, stateDir] {
    (void)unshareAll(sid, c.id, c.hostMounts);
    (void)removeAll(stateDir);
  });
  std::string rootfs =
      spec.root.path[0] == '/' ? spec.root.path : req.bundle + "/" + spec.root.path;
  std::vector<MountPoint> mountPoints;
  KATA_ASSIGN_OR_RETURN(::grpc::Spec gspec,
                        guestSpec(spec, sid, req.id, req.guestSeccomp, c.hostMounts, mountPoints));
  crashPoint("create:volumes");
  if (spec.root.readonly) KATA_TRY(createMountPoints(rootfs, mountPoints));
  KATA_ASSIGN_OR_RETURN(shared::SharedFile rootMount,
                        shared::shareRootfs(sid, req.id, rootfs, spec.root.readonly));
  c.hostMounts.insert(c.hostMounts.begin(), rootMount.hostMount);
  gspec.mutable_root()->set_path(rootMount.guestPath);
  crashPoint("create:rootfs");

  KATA_ASSIGN_OR_RETURN(AgentClient agent, agentOf(sandbox));
  ::grpc::CreateContainerRequest creq;
  creq.set_container_id(req.id);
  creq.set_exec_id(req.id);
  *creq.mutable_oci() = gspec;
  creq.set_sandbox_pidns(sharesSandboxPidNamespace(spec));
  auto created = agent.call("CreateContainer", &::grpc::AgentService::Stub::CreateContainer, creq);
  if (!created.ok()) return std::move(created).error();
  crashPoint("create:container");
  undo.commit();
  return c;
}

Status removeContainerFromSandbox(const SandboxState& sandbox, const ContainerState& c,
                                  bool force) {
  Status first;
  if (sandbox.qemu.alive() && sandbox.proxy.alive()) {
    if (auto agent = agentOf(sandbox); agent.ok()) {
      ::grpc::RemoveContainerRequest req;
      req.set_container_id(c.id);
      req.set_timeout(kRemoveTimeoutSec);
      auto r = agent->call("RemoveContainer", &::grpc::AgentService::Stub::RemoveContainer, req,
                           force ? 5000 : (kRemoveTimeoutSec + 20) * 1000);
      if (!r.ok() && !force && r.error().code != ENOENT) first = std::move(r).error();
    }
  }
  Status unshared = unshareAll(sandbox.id, c.id, c.hostMounts);
  return first.ok() ? unshared : first;
}

Status startInGuest(const SandboxState& sandbox, const std::string& id) {
  KATA_ASSIGN_OR_RETURN(AgentClient agent, agentOf(sandbox));
  ::grpc::StartContainerRequest req;
  req.set_container_id(id);
  auto started = agent.call("StartContainer", &::grpc::AgentService::Stub::StartContainer, req);
  if (!started.ok()) return std::move(started).error();
  return okStatus();
}

Status signalInGuest(const SandboxState& sandbox, const std::string& id, const std::string& execId,
                     int signal) {
  KATA_ASSIGN_OR_RETURN(AgentClient agent, agentOf(sandbox));
  ::grpc::SignalProcessRequest req;
  req.set_container_id(id);
  req.set_exec_id(execId);
  req.set_signal(uint32_t(signal));
  auto sent = agent.call("SignalProcess", &::grpc::AgentService::Stub::SignalProcess, req, 10000);
  if (!sent.ok()) return std::move(sent).error();
  return okStatus();
}

Status execInGuest(const SandboxState& sandbox, const std::string& id, const std::string& execId,
                   const oci::Process& process) {
  if (process.args.empty()) return makeError("exec: no command given", EINVAL);
  KATA_TRY(checkGuestCanHonour(process));
  KATA_ASSIGN_OR_RETURN(AgentClient agent, agentOf(sandbox));
  ::grpc::ExecProcessRequest req;
  req.set_container_id(id);
  req.set_exec_id(execId);
  *req.mutable_process() = toAgentProcess(process);
  auto execd = agent.call("ExecProcess", &::grpc::AgentService::Stub::ExecProcess, req);
  if (!execd.ok()) return std::move(execd).error();
  return okStatus();
}

Status pauseInGuest(const SandboxState& sandbox, const std::string& id, bool pause) {
  KATA_ASSIGN_OR_RETURN(AgentClient agent, agentOf(sandbox));
  if (pause) {
    ::grpc::PauseContainerRequest r;
    r.set_container_id(id);
    auto done = agent.call("PauseContainer", &::grpc::AgentService::Stub::PauseContainer, r);
    if (!done.ok()) return std::move(done).error();
  } else {
    ::grpc::ResumeContainerRequest r;
    r.set_container_id(id);
    auto done = agent.call("ResumeContainer", &::grpc::AgentService::Stub::ResumeContainer, r);
    if (!done.ok()) return std::move(done).error();
  }
  return okStatus();
}

Status updateInGuest(const SandboxState& sandbox, const std::string& id,
                     const oci::Resources& resources) {
  KATA_TRY(checkFitsVm(sandbox, resources));
  KATA_ASSIGN_OR_RETURN(AgentClient agent, agentOf(sandbox));
  ::grpc::UpdateContainerRequest req;
  req.set_container_id(id);
  *req.mutable_resources() = toAgentResources(resources);
  auto done = agent.call("UpdateContainer", &::grpc::AgentService::Stub::UpdateContainer, req);
  if (!done.ok()) return std::move(done).error();
  if (!sandbox.hostCgroup.empty()) {
    KATA_ASSIGN_OR_RETURN(CgroupHierarchies h, cgroupHierarchies());
    KATA_TRY(applyHostCgroup(h, sandbox.hostCgroup, resources));
  }
  return okStatus();
}

Result<::grpc::StatsContainerResponse> statsInGuest(const SandboxState& sandbox,
                                                    const std::string& id) {
  KATA_ASSIGN_OR_RETURN(AgentClient agent, agentOf(sandbox));
  ::grpc::StatsContainerRequest req;
  req.set_container_id(id);
  KATA_ASSIGN_OR_RETURN(
      ::grpc::StatsContainerResponse stats,
      agent.call("StatsContainer", &::grpc::AgentService::Stub::StatsContainer, req));
  KATA_TRY(checkStatsSize(stats));
  return stats;
}

Result<std::string> processesInGuest(const SandboxState& sandbox, const std::string& id,
                                     const std::vector<std::string>& args) {
  KATA_ASSIGN_OR_RETURN(AgentClient agent, agentOf(sandbox));
  ::grpc::ListProcessesRequest req;
  req.set_container_id(id);
  req.set_format("table");
  for (const auto& a : args) req.add_args(a);
  KATA_ASSIGN_OR_RETURN(
      ::grpc::ListProcessesResponse resp,
      agent.call("ListProcesses", &::grpc::AgentService::Stub::ListProcesses, req));
  return resp.process_list();
}

Status resizeInGuest(const SandboxState& sandbox, const std::string& id, const std::string& execId,
                     unsigned rows, unsigned cols) {
  KATA_ASSIGN_OR_RETURN(AgentClient agent, agentOf(sandbox));
  ::grpc::TtyWinResizeRequest req;
  req.set_container_id(id);
  req.set_exec_id(execId);
  req.set_row(rows);
  req.set_column(cols);
  auto done = agent.call("TtyWinResize", &::grpc::AgentService::Stub::TtyWinResize, req, 10000);
  if (!done.ok()) return std::move(done).error();
  return okStatus();
}

}  // namespace kata::vc
