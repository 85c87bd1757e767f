#include "runtime/virtcontainers/lifecycle.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "lib/container_id.h"
#include "lib/crash_point.h"
#include "lib/fs_util.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "lib/pod_role.h"
#include "lib/random_hex.h"
#include "lib/safe_path.h"
#include "lib/unique_fd.h"
#include "runtime/virtcontainers/console.h"
#include "runtime/virtcontainers/container.h"
#include "runtime/virtcontainers/hooks.h"
#include "runtime/virtcontainers/host_cgroup.h"
#include "runtime/virtcontainers/rollback.h"
#include "runtime/virtcontainers/sandbox.h"
#include "runtime/virtcontainers/shared_dir.h"
#include "runtime/virtcontainers/spec_convert.h"

namespace kata::vc {
namespace {

std::string liveStatus(const ContainerState& c, const SandboxState* s) {
  if (c.status == "stopped") return "stopped";
  if (!c.shim.alive()) return "stopped";
  if (s && !s->qemu.alive()) return "stopped";
  // A start that was killed half-way: `start` again finishes it.
  if (c.status == "starting") return "created";
  return c.status;
}

oci::State ociState(const ContainerState& c, const std::string& status, pid_t pid) {
  oci::State st;
  st.id = c.id;
  st.status = status;
  st.pid = pid;
  st.bundle = c.bundle;
  st.annotations = c.annotations;
  return st;
}

struct ShimStdio {
  std::optional<Pty> pty;
};

// Starts the shim relaying one process (init: execId == cid). Its stdio is the pty slave when
// the process has a terminal and a console socket was given, else our own stdio.
Result<ShimHandle> startShim(const RuntimeContext& ctx, const SandboxState& sandbox,
                             const std::string& cid, const std::string& execId, bool terminal,
                             const std::string& consoleSocket, const oci::Process& process,
                             bool foreground) {
  SpawnOptions opts;
  opts.argv = {ctx.config.shim.path, "-agent", sandbox.agentUrl, "-container", cid,
               "-exec-id",           execId};
  if (terminal) opts.argv.push_back("-terminal");
  // The init shim of the sandbox's container runs in its host cgroup, which containerd watches
  // for OOMs: it relays the guest's (shim/oom_relay.h).
  if (!sandbox.hostCgroup.empty() && cid == sandbox.id && execId == cid)
    opts.argv.push_back("-oom-relay");
  if (ctx.config.shim.enable_debug) {
    opts.argv.push_back("-log");
    opts.argv.push_back("debug");
    opts.env = environWith({"KATA_SHIM_LOG=" + StorePaths::sandboxDir(sandbox.id) + "/" + cid +
                            "/shim-" + execId + ".log"});
  }
  std::optional<Pty> pty;
  if (terminal && !consoleSocket.empty()) {
    unsigned rows = process.consoleSize ? process.consoleSize->height : 0;
    unsigned cols = process.consoleSize ? process.consoleSize->width : 0;
    KATA_ASSIGN_OR_RETURN(Pty p, openPty(rows, cols));
    KATA_TRY(sendConsole(consoleSocket, p.master.get(), p.name));
    pty = std::move(p);
    opts.stdinFd = opts.stdoutFd = opts.stderrFd = pty->slave.get();
    opts.setsid = true;
    // The caller resizes the terminal through its master (docker run -t, a resized docker
    // client): the shim learns of it by SIGWINCH, sent only to a controlling terminal's session.
    opts.controllingTerminal = true;
  } else {
    opts.stdinFd = 0;
    opts.stdoutFd = 1;
    opts.stderrFd = 2;
  }
  // The shim lives in the sandbox's network namespace: its pid is the container's for Docker
  // (`--network container:ID` names /proc/<pid>/ns/net), as the container's init would be.
  UniqueFd netns;
  if (!sandbox.netns.empty()) {
    netns.reset(::open(sandbox.netns.c_str(), O_RDONLY | O_CLOEXEC));
    if (!netns) return sysError("network namespace " + sandbox.netns);
    opts.netnsFd = netns.get();
  }
  // The shim watches QEMU and kata-proxy through pidfds: when either dies it gives up at once
  // and the container exits, where it would otherwise retry the agent for 20 s.
  UniqueFd qemuFd, proxyFd;
  KATA_ASSIGN_OR_RETURN(qemuFd, sandbox.qemu.openPidfd());
  KATA_ASSIGN_OR_RETURN(proxyFd, sandbox.proxy.openPidfd());
  int nextFd = 3;
  const std::pair<const UniqueFd*, const char*> watched[] = {{&qemuFd, "QEMU"},
                                                             {&proxyFd, "kata-proxy"}};
  for (const auto& [fd, name] : watched) {
    if (!*fd) continue;
    opts.extraFds.emplace_back(fd->get(), nextFd);
    opts.argv.push_back("-watch-pidfd");
    opts.argv.push_back(std::to_string(nextFd++) + "=" + name);
  }
  // The shim is accounted with the VM (sandbox_cgroup_only): it starts in the sandbox's cgroup.
  if (!sandbox.hostCgroup.empty()) {
    KATA_ASSIGN_OR_RETURN(CgroupHierarchies hierarchies, cgroupHierarchies());
    KATA_TRY(enterHostCgroup(hierarchies, sandbox.hostCgroup));
  }
  ShimHandle h;
  if (foreground) {
    KATA_ASSIGN_OR_RETURN(ChildProcess child, ChildProcess::spawn(opts));
    KATA_ASSIGN_OR_RETURN(h.ref, ProcessRef::of(child.pid()));
    h.child = std::move(child);
  } else {
    KATA_ASSIGN_OR_RETURN(pid_t pid, ChildProcess::spawnDetached(opts));
    auto ref = ProcessRef::of(pid);
    if (!ref.ok()) return makeError("kata-shim exited immediately", ECHILD);
    h.ref = *ref;
  }
  return h;
}

Status writePidFile(const std::string& path, pid_t pid) {
  if (path.empty()) return okStatus();
  return writeFileAtomic(path, std::to_string(pid), 0644);
}

std::string absolutePath(const std::string& p) {
  if (p.empty() || p[0] == '/') return p;
  char cwd[4096];
  if (!getcwd(cwd, sizeof cwd)) return p;
  return std::string(cwd) + "/" + p;
}

// Removes a container's guest side and host side. Every step runs; the first error is kept.
Status teardownContainer(const RuntimeContext& ctx, const SandboxState& sandbox,
                         const ContainerState& c, bool force) {
  Status first;
  auto keep = [&first](Status st) {
    if (!st.ok()) {
      log::warn(st.error().str(), {{"container", std::string()}});
      if (first.ok()) first = std::move(st);
    }
  };
  for (const auto& [id, e] : c.execs) keep(e.shim.killAndWait());
  keep(c.shim.killAndWait());
  keep(removeContainerFromSandbox(sandbox, c, force));
  return first;
}

// What a pod member whose state is unreadable may have left: its container in the guest, its
// mounts in the share, its state dir, its place in the member list.
Status removeMemberLeftovers(SandboxState& sandbox, const std::string& id) {
  ContainerState unknown;
  unknown.id = id;
  Status first = removeContainerFromSandbox(sandbox, unknown, true);
  Status removed = removeAll(StorePaths::sandboxDir(sandbox.id) + "/" + id);
  if (first.ok()) first = std::move(removed);
  auto& members = sandbox.containers;
  if (std::find(members.begin(), members.end(), id) != members.end()) {
    members.erase(std::remove(members.begin(), members.end(), id), members.end());
    Status saved = saveSandbox(sandbox);
    if (first.ok()) first = std::move(saved);
  }
  return first;
}

// A sandbox whose state dir is gone needs no lock file either (removing it while holding the
// exclusive lock is safe: see FileLock::removeFile).
void removeLockOfGoneSandbox(FileLock& lock, const std::string& sid) {
  if (::access(StorePaths::sandboxDir(sid).c_str(), F_OK) != 0 && errno == ENOENT) {
    lock.removeFile();
  }
}

}  // namespace

Result<int> parseSignal(const std::string& text) {
  static const std::map<std::string, int> kSignals = {
      {"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},     {"ILL", SIGILL},
      {"TRAP", SIGTRAP},     {"ABRT", SIGABRT}, {"IOT", SIGIOT},       {"BUS", SIGBUS},
      {"FPE", SIGFPE},       {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},
      {"USR2", SIGUSR2},     {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM},
      {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},     {"STOP", SIGSTOP},
      {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},
      {"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
      {"WINCH", SIGWINCH},   {"IO", SIGIO},     {"PWR", SIGPWR},       {"SYS", SIGSYS}};
  if (!text.empty() && std::all_of(text.begin(), text.end(), ::isdigit)) {
    auto n = parseInt<int>(text, "signal");
    if (!n.ok() || *n < 1 || *n > SIGRTMAX)
      return makeError("invalid signal number " + text.substr(0, 32), EINVAL);
    return *n;
  }
  std::string name = text;
  std::transform(name.begin(), name.end(), name.begin(), ::toupper);
  if (name.rfind("SIG", 0) == 0) name = name.substr(3);
  auto it = kSignals.find(name);
  if (it == kSignals.end()) return makeError("unknown signal \"" + text + "\"", EINVAL);
  return it->second;
}

Result<ShimHandle> createContainer(const RuntimeContext& ctx, const CreateRequest& req) {
  KATA_TRY(validateContainerId(req.id));
  const std::string bundle = absolutePath(req.bundle.empty() ? "." : req.bundle);
  KATA_ASSIGN_OR_RETURN(oci::Spec spec, oci::loadSpec(bundle));
  if (!spec.process)
    return makeError("config.json: process: required to create a container", EINVAL);
  KATA_TRY(checkGuestCanHonour(spec));
  KATA_ASSIGN_OR_RETURN(oci::PodRole role, oci::podRole(spec));
  const std::string sid = role.member ? role.sandboxId : req.id;
  if (spec.process->terminal && req.consoleSocket.empty() && !req.foregroundShim)
    return makeError("cannot allocate tty if runc will detach without setting console socket",
                     EINVAL);
  if (!spec.process->terminal && !req.consoleSocket.empty())
    return makeError("cannot use console socket if runc will not allocate tty", EINVAL);

  const Json::Value hooks = oci::toJson(spec)["hooks"];
  // The create hooks run once the sandbox's network namespace exists and before the runtime
  // scans it (hooks.h): the guest gets what Docker's libnetwork put there when the VM boots.
  auto runCreateHooks = [&](const Json::Value& h, const std::string& netns) -> Status {
    oci::State st;
    st.id = req.id;
    st.status = "created";
    st.bundle = bundle;
    st.annotations = spec.annotations;
    KATA_TRY(vc::runCreateHooks(h, st, netns));
    crashPoint("create:hooks");
    return okStatus();
  };
  // Everything the undo steps refer to is declared before them, so that it outlives them.
  SandboxState sandbox;
  ContainerState c;
  ShimHandle shim;
  FileLock lock;  // before the undo steps, so that they run while it is held
  KATA_TRY(indexAdd(ctx.root, req.id, sid, bundle));
  Rollback undo;
  undo.add([&] { (void)indexRemove(ctx.root, req.id); });
  crashPoint("create:index");
  KATA_ASSIGN_OR_RETURN(lock, lockSandbox(sid, FileLock::Exclusive));

  if (role.member) {
    KATA_ASSIGN_OR_RETURN(sandbox, loadSandbox(sid));
    if (!sandboxAlive(sandbox)) return makeError("sandbox " + sid + " is not running", ESRCH);
    KATA_TRY(runCreateHooks(hooks, sandbox.netns));
  } else {
    undo.add([&lock, &sid] { removeLockOfGoneSandbox(lock, sid); });
    SandboxSpec ss;
    ss.id = sid;
    ss.hostname = spec.hostname;
    // A network namespace without a path (Docker's, runc spec's): the sandbox makes its own.
    ss.netns = specNetns(spec);
    ss.sharedPidNamespace = role.podSandbox;
    ss.beforeNetworkScan = [&](const std::string& ns) { return runCreateHooks(hooks, ns); };
    if (spec.linux) {
      ss.resources = spec.linux->resources;
      if (ctx.config.runtime.sandbox_cgroup_only) {
        KATA_ASSIGN_OR_RETURN(ss.hostCgroup, hostCgroupPath(spec.linux->cgroupsPath));
      }
    }
    KATA_ASSIGN_OR_RETURN(sandbox, createSandbox(ctx.config, ss));
    undo.add([&sandbox] { (void)destroySandbox(sandbox); });
  }

  ContainerRequest creq;
  creq.id = req.id;
  creq.bundle = bundle;
  creq.spec = &spec;
  creq.guestSeccomp = !ctx.config.runtime.disable_guest_seccomp;
  KATA_ASSIGN_OR_RETURN(c, createContainerInSandbox(sandbox, creq));
  c.hooks = hooks;
  undo.add([&sandbox, &c] {
    (void)removeContainerFromSandbox(sandbox, c, true);
    (void)removeAll(StorePaths::sandboxDir(sandbox.id) + "/" + c.id);
  });

  KATA_ASSIGN_OR_RETURN(shim, startShim(ctx, sandbox, req.id, req.id, spec.process->terminal,
                                        req.consoleSocket, *spec.process, req.foregroundShim));
  c.shim = shim.ref;
  undo.add([&shim] { (void)shim.ref.killAndWait(); });
  crashPoint("create:shim");
  KATA_TRY(writePidFile(req.pidFile, shim.ref.pid));
  undo.add([&req] {
    if (!req.pidFile.empty()) unlink(req.pidFile.c_str());
  });

  KATA_TRY(saveContainer(c));
  sandbox.containers.push_back(req.id);
  KATA_TRY(saveSandbox(sandbox));
  undo.commit();
  log::info("container created", {{"container", req.id}, {"sandbox", sid}});
  return shim;
}

namespace {

struct Loaded {
  FileLock lock;
  SandboxState sandbox;
  ContainerState container;
};

Result<Loaded> loadForUpdate(const RuntimeContext& ctx, const std::string& id,
                             FileLock::Mode mode) {
  KATA_TRY(validateContainerId(id));
  KATA_ASSIGN_OR_RETURN(std::string sid, indexLookup(ctx.root, id));
  Loaded l;
  KATA_ASSIGN_OR_RETURN(l.lock, lockSandbox(sid, mode));
  auto sandbox = loadSandbox(sid);
  if (!sandbox.ok()) {
    // Locking made a lock file; a sandbox that is not there must not keep it.
    l.lock.release();
    if (auto excl = lockSandbox(sid, FileLock::Exclusive, 0); excl.ok())
      removeLockOfGoneSandbox(*excl, sid);
    return std::move(sandbox).error();
  }
  l.sandbox = std::move(sandbox).value();
  KATA_ASSIGN_OR_RETURN(l.container, loadContainer(sid, id));
  return l;
}

}  // namespace

Status startContainer(const RuntimeContext& ctx, const std::string& id) {
  KATA_ASSIGN_OR_RETURN(Loaded l, loadForUpdate(ctx, id, FileLock::Exclusive));
  std::string status = liveStatus(l.container, &l.sandbox);
  if (status != "created")
    return makeError("cannot start container " + id + ": it is " + status + ", not created",
                     EINVAL);
  // "starting" is recorded first: if this command dies after the agent started the process, a
  // second start sees it and takes the agent's "not created" answer as done.
  const bool retry = l.container.status == "starting";
  l.container.status = "starting";
  KATA_TRY(saveContainer(l.container));
  Status started = startInGuest(l.sandbox, id);
  if (!started.ok() && !(retry && started.error().code == EALREADY)) {
    // As under runc, a container whose process the agent could not start (a bad entrypoint:
    // the agent answered an error, code 0 or ENOENT) is stopped: its shim goes, so that
    // containerd sees the init exit and Docker's delete (without force) removes the VM. Left
    // "created", every failed `docker run` kept its VM running. Without an answer (a timeout,
    // a lost connection) the process may run: the container stays created.
    const int code = started.error().code;
    const bool refused = code == 0 || code == ENOENT;
    if (refused) (void)l.container.shim.signal(SIGKILL);
    l.container.status = refused ? "stopped" : "created";
    (void)saveContainer(l.container);
    return std::move(started).error();
  }
  crashPoint("start:started");
  l.container.status = "running";
  KATA_TRY(saveContainer(l.container));
  auto hooks = runHooks(l.container.hooks, "poststart",
                        ociState(l.container, "running", l.container.shim.pid));
  if (!hooks.ok()) log::warn("poststart hook failed: " + hooks.error().str(), {{"container", id}});
  // The sandbox's first container runs: QEMU's boot files can go back to the page cache, off
  // the path of `create` (and, for `run`, while the process already runs).
  if (id == l.sandbox.id) {
    const auto& q = ctx.config.qemu;
    releaseBootFilePages(l.sandbox.qemu, q.kernel, q.disable_image_nvdimm ? "" : q.image);
  }
  return okStatus();
}

Status killContainer(const RuntimeContext& ctx, const std::string& id, int signal, bool all) {
  KATA_ASSIGN_OR_RETURN(Loaded l, loadForUpdate(ctx, id, FileLock::Shared));
  std::string status = liveStatus(l.container, &l.sandbox);
  if (status == "stopped") {
    // As runc: `kill --all` of a stopped container has nothing to signal and succeeds, and
    // the error says "container not running", which containerd's shims take for "already
    // exited" (their check is on that text): else containerd-shim v1's delete of a pod whose
    // pause process exited fails, and CRI retries the exit forever.
    if (all) return okStatus();
    return makeError("container " + id + ": container not running", ESRCH);
  }
  // The init's exec id is the container id; an empty one asks the agent for every process.
  return signalInGuest(l.sandbox, id, all ? "" : id, signal);
}

Status deleteContainer(const RuntimeContext& ctx, const std::string& id, bool force) {
  KATA_TRY(validateContainerId(id));
  auto indexed = indexLookup(ctx.root, id);
  // A sandbox whose index entry is gone (another --root, a wiped state dir) is still found
  // by --force under its own id, so that its VM and mounts can be cleaned up.
  if (!indexed.ok() && force && indexed.error().code == ENOENT &&
      ::access(StorePaths::sandboxDir(id).c_str(), F_OK) == 0) {
    indexed = id;
  }
  KATA_ASSIGN_OR_RETURN(std::string sid, std::move(indexed));
  KATA_ASSIGN_OR_RETURN(FileLock lock, lockSandbox(sid, FileLock::Exclusive));
  auto sandbox = loadSandbox(sid);
  auto container = sandbox.ok() ? loadContainer(sid, id) : Result<ContainerState>(sandbox.error());
  // A pod member whose sandbox was deleted before it (CRI deletes the tasks of a pod whose VM
  // died in any order): its state went with the sandbox, only its index entry is left.
  const bool sandboxGone = sid != id && !sandbox.ok() && sandbox.error().code == ENOENT;
  if (!container.ok()) {
    if (!force && !sandboxGone) return std::move(container).error();
    // State is gone or corrupt: remove whatever is left of the container and its sandbox.
    log::warn("state unreadable, forcing cleanup: " + container.error().str(), {{"container", id}});
    Status st = okStatus();
    if (sandbox.ok()) {
      // A pod member (a create killed half-way) goes alone; the pod's VM stays.
      st = sid == id ? destroySandbox(*sandbox) : removeMemberLeftovers(*sandbox, id);
    } else if (sid == id) {
      // Nothing recorded: a QEMU started meanwhile is found by its pid file.
      SandboxState unknown;
      unknown.id = sid;
      st = destroySandbox(unknown);
    }
    removeLockOfGoneSandbox(lock, sid);
    KATA_TRY(indexRemove(ctx.root, id));
    return st;
  }
  std::string status = liveStatus(*container, &*sandbox);
  if (!force && status != "stopped" && status != "created")
    return makeError(
        "cannot delete container " + id + " that is not stopped: " + status + " (use --force)",
        EBUSY);
  Status first = teardownContainer(ctx, *sandbox, *container, force);
  crashPoint("delete:container");
  auto hooks = runHooks(container->hooks, "poststop", ociState(*container, "stopped", 0));
  if (!hooks.ok()) log::warn("poststop hook failed: " + hooks.error().str(), {{"container", id}});
  auto& members = sandbox->containers;
  members.erase(std::remove(members.begin(), members.end(), id), members.end());
  (void)removeAll(StorePaths::sandboxDir(sid) + "/" + id);
  if (members.empty() || sid == id) {
    Status st = destroySandbox(*sandbox);
    if (first.ok()) first = std::move(st);
    removeLockOfGoneSandbox(lock, sid);
  } else {
    KATA_TRY(saveSandbox(*sandbox));
  }
  KATA_TRY(indexRemove(ctx.root, id));
  return first;
}

Result<ContainerInfo> containerInfo(const RuntimeContext& ctx, const std::string& id) {
  KATA_ASSIGN_OR_RETURN(Loaded l, loadForUpdate(ctx, id, FileLock::Shared));
  ContainerInfo info;
  info.status = liveStatus(l.container, &l.sandbox);
  info.pid = info.status == "stopped" ? 0 : l.container.shim.pid;
  info.state = std::move(l.container);
  return info;
}

Result<std::vector<ContainerInfo>> listContainers(const RuntimeContext& ctx) {
  KATA_ASSIGN_OR_RETURN(std::vector<std::string> ids, indexList(ctx.root));
  std::vector<ContainerInfo> out;
  for (const auto& id : ids) {
    auto info = containerInfo(ctx, id);
    if (!info.ok() && indexLookup(ctx.root, id).ok()) {
      // Indexed but its state is unreadable (a create killed half-way, a corrupt file): shown
      // as stopped, so that the operator sees it and removes it with delete --force.
      log::warn("container state unreadable: " + info.error().str(), {{"container", id}});
      ContainerInfo broken;
      broken.state.id = id;
      broken.status = "stopped";
      out.push_back(std::move(broken));
      continue;
    }
    if (info.ok()) out.push_back(std::move(info).value());  // else deleted meanwhile
  }
  return out;
}

Result<ShimHandle> execProcess(const RuntimeContext& ctx, const ExecRequest& req) {
  KATA_ASSIGN_OR_RETURN(Loaded l, loadForUpdate(ctx, req.id, FileLock::Exclusive));
  std::string status = liveStatus(l.container, &l.sandbox);
  if (status != "running")
    return makeError("cannot exec in container " + req.id + ": it is " + status, EINVAL);
  if (req.process.terminal && req.consoleSocket.empty() && req.detach)
    return makeError("cannot allocate tty if runc will detach without setting console socket",
                     EINVAL);
  const std::string execId = randomHex(8);
  KATA_TRY(execInGuest(l.sandbox, req.id, execId, req.process));
  crashPoint("exec:process");
  KATA_ASSIGN_OR_RETURN(ShimHandle shim,
                        startShim(ctx, l.sandbox, req.id, execId, req.process.terminal,
                                  req.consoleSocket, req.process, !req.detach));
  KATA_TRY(writePidFile(req.pidFile, shim.ref.pid));
  crashPoint("exec:shim");
  l.container.execs[execId] = ExecState{execId, shim.ref, req.process.terminal};
  KATA_TRY(saveContainer(l.container));
  return shim;
}

Status pauseContainer(const RuntimeContext& ctx, const std::string& id, bool pause) {
  KATA_ASSIGN_OR_RETURN(Loaded l, loadForUpdate(ctx, id, FileLock::Exclusive));
  std::string status = liveStatus(l.container, &l.sandbox);
  if (pause && status != "running")
    return makeError("cannot pause container " + id + ": it is " + status, EINVAL);
  if (!pause && status != "paused")
    return makeError("cannot resume container " + id + ": it is " + status, EINVAL);
  KATA_TRY(pauseInGuest(l.sandbox, id, pause));
  l.container.status = pause ? "paused" : "running";
  return saveContainer(l.container);
}

namespace {

// A container that is running or paused, for queries and updates.
Status checkLive(const Loaded& l, const std::string& id, const char* operation) {
  std::string status = liveStatus(l.container, &l.sandbox);
  if (status != "running" && status != "paused")
    return makeError(std::string("cannot ") + operation + " container " + id + ": it is " + status,
                     EINVAL);
  return okStatus();
}

}  // namespace

Result<std::string> listProcesses(const RuntimeContext& ctx, const std::string& id,
                                  const std::vector<std::string>& args) {
  KATA_ASSIGN_OR_RETURN(Loaded l, loadForUpdate(ctx, id, FileLock::Shared));
  KATA_TRY(checkLive(l, id, "list processes of"));
  return processesInGuest(l.sandbox, id, args);
}

Result<std::vector<pid_t>> hostPids(const RuntimeContext& ctx, const std::string& id) {
  KATA_ASSIGN_OR_RETURN(Loaded l, loadForUpdate(ctx, id, FileLock::Shared));
  KATA_TRY(checkLive(l, id, "list processes of"));
  std::vector<pid_t> pids{l.container.shim.pid};
  for (const auto& [execId, e] : l.container.execs) {
    if (e.shim.alive()) pids.push_back(e.shim.pid);
  }
  return pids;
}

Status updateContainer(const RuntimeContext& ctx, const std::string& id,
                       const oci::Resources& resources) {
  KATA_ASSIGN_OR_RETURN(Loaded l, loadForUpdate(ctx, id, FileLock::Exclusive));
  KATA_TRY(checkLive(l, id, "update"));
  return updateInGuest(l.sandbox, id, resources);
}

Result<::grpc::StatsContainerResponse> containerStats(const RuntimeContext& ctx,
                                                      const std::string& id) {
  KATA_ASSIGN_OR_RETURN(Loaded l, loadForUpdate(ctx, id, FileLock::Shared));
  KATA_TRY(checkLive(l, id, "get statistics of"));
  return statsInGuest(l.sandbox, id);
}

namespace {
volatile sig_atomic_t gForegroundShimPid = 0;
void forwardSignal(int sig) {
  if (gForegroundShimPid > 0) kill(gForegroundShimPid, sig);
}
}  // namespace

Result<int> waitForeground(ShimHandle& shim) {
  if (!shim.child) return makeError("shim is not a foreground child", EINVAL);
  gForegroundShimPid = shim.child->pid();
  struct sigaction sa = {};
  sa.sa_handler = forwardSignal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  // The shim is our child: forwarding keeps `kata-runtime run` behaving like the process.
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) sigaction(sig, &sa, nullptr);
  auto code = shim.child->wait();
  gForegroundShimPid = 0;
  return code;
}

}  // namespace kata::vc
