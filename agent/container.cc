#include "agent/container.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <set>

#include "lib/container_id.h"
#include "lib/log.h"
#include "protocols/agent.pb.h"
#include "protocols/oci.pb.h"

namespace kata::agent {

namespace {

Status writeOomScoreAdj(pid_t pid, int value) {
  std::string path = "/proc/" + std::to_string(pid) + "/oom_score_adj";
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return sysError("open " + path);
  std::string v = std::to_string(value);
  if (::write(fd.get(), v.data(), v.size()) < 0) return sysError("set oom_score_adj");
  return okStatus();
}

}  // namespace

const char* stateName(ContainerState state) {
  switch (state) {
    case ContainerState::Created:
      return "created";
    case ContainerState::Running:
      return "running";
    case ContainerState::Paused:
      return "paused";
    case ContainerState::Stopped:
      return "stopped";
  }
  return "unknown";
}

Result<std::shared_ptr<Container>> Container::create(const grpc::CreateContainerRequest& req,
                                                     const SandboxContext& ctx, Reaper& reaper) {
  // Storages first: the rootfs may live on one of them.
  std::vector<MountedStorage> storages;
  if (req.storages_size() > 64) return makeError("too many storages", EINVAL);
  for (const auto& s : req.storages()) {
    KATA_ASSIGN_OR_RETURN(auto m, mountStorage(s));
    storages.push_back(std::move(m));
  }
  KATA_ASSIGN_OR_RETURN(auto config, buildContainerConfig(req, ctx));
  std::shared_ptr<Container> c(new Container(std::move(config), reaper));
  c->storages_ = std::move(storages);
  c->initExecId_ = req.exec_id();

  KATA_ASSIGN_OR_RETURN(c->cgroup_, Cgroup::create(c->config_.cgroupPath));
  if (req.oci().linux().has_resources()) {
    c->cpusetPinned_ = !req.oci().linux().resources().cpu().cpus().empty();
    if (auto s = c->cgroup_.apply(req.oci().linux().resources()); !s.ok()) {
      (void)c->cgroup_.destroy();
      return std::move(s).error().wrap("cgroup limits");
    }
  }
  c->config_.rootfs.cgroupDirs = c->cgroup_.hierarchyDirs();

  const ProcessSpec& ps = c->config_.process;
  auto stdio = createStdio(ps.terminal);
  if (!stdio.ok()) {
    (void)c->cgroup_.destroy();
    return std::move(stdio).error();
  }
  auto proc = std::make_shared<Process>(req.exec_id(), ps.terminal);
  auto spawned = spawnContainerInit(
      c->config_, *stdio, reaper, [proc](int status) { proc->markExited(status); },
      [&](pid_t pid) -> Status {
        KATA_TRY(c->cgroup_.addProcess(pid));
        return writeOomScoreAdj(pid, ps.oomScoreAdj);
      });
  if (!spawned.ok()) {
    // The killed child may still be in the cgroup for a moment; destroy() waits for it.
    (void)c->cgroup_.destroy();
    return std::move(spawned).error();
  }
  proc->setPid(spawned->pid);
  proc->attachStdio(*stdio);
  c->init_ = proc;
  c->initSpawn_ = std::move(spawned).value();
  log::info("container created", {{"container", c->id()}, {"pid", std::to_string(proc->pid())}});
  return c;
}

Container::~Container() {
  if (init_) init_->stopStdio();
  for (auto& [id, p] : execs_) p->stopStdio();
}

ContainerState Container::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_ != ContainerState::Stopped && init_ && init_->exited()) return ContainerState::Stopped;
  return state_;
}

Status Container::start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_ != ContainerState::Created) {
    return makeError("container " + id() + " is " + stateName(state_) + ", not created", EALREADY);
  }
  if (init_->exited()) return makeError("container " + id() + " init process died", ESRCH);
  KATA_TRY_CTX(startContainerInit(initSpawn_), "start container " + id());
  state_ = ContainerState::Running;
  log::info("container started", {{"container", id()}});
  return okStatus();
}

std::vector<int> Container::execNamespaces() const {
  std::vector<int> flags;
  for (const auto& n : config_.namespaces) flags.push_back(n.flag);
  if (config_.newCgroupNamespace) flags.push_back(CLONE_NEWCGROUP);
  return flags;
}

Result<std::shared_ptr<Process>> Container::exec(const grpc::ExecProcessRequest& req) {
  KATA_TRY_CTX(validateContainerId(req.exec_id()), "exec id");
  if (!req.has_process()) return makeError("ExecProcess: process is missing", EINVAL);
  KATA_ASSIGN_OR_RETURN(
      auto ps, buildProcessSpec(req.process(), req.has_string_user() ? &req.string_user() : nullptr,
                                config_.rootfs.rootfs, config_.process.seccompBpf));
  std::lock_guard<std::mutex> lock(mu_);
  if (state_ == ContainerState::Stopped || init_->exited()) {
    return makeError("container " + id() + " is not running", ESRCH);
  }
  if (state_ == ContainerState::Paused) {
    // A new process would be frozen before it could exec.
    return makeError("container " + id() + " is paused", EALREADY);
  }
  if (execs_.count(req.exec_id()) || req.exec_id() == initExecId_) {
    return makeError("exec id " + req.exec_id() + " already exists", EEXIST);
  }
  auto stdio = createStdio(ps.terminal);
  if (!stdio.ok()) return std::move(stdio).error();
  auto proc = std::make_shared<Process>(req.exec_id(), ps.terminal);
  KATA_ASSIGN_OR_RETURN(pid_t pid, spawnInContainer(
                                       ps, init_->pid(), execNamespaces(), *stdio, reaper_,
                                       [proc](int status) { proc->markExited(status); },
                                       [&](pid_t pid) -> Status {
                                         KATA_TRY(cgroup_.addProcess(pid));
                                         return writeOomScoreAdj(pid, ps.oomScoreAdj);
                                       }));
  proc->setPid(pid);
  proc->attachStdio(*stdio);
  execs_[req.exec_id()] = proc;
  log::info("process started",
            {{"container", id()}, {"exec", req.exec_id()}, {"pid", std::to_string(pid)}});
  return proc;
}

Result<std::shared_ptr<Process>> Container::process(const std::string& execId) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::shared_ptr<Process> p;
  if (execId.empty() || execId == initExecId_) {
    p = init_;
  } else if (auto it = execs_.find(execId); it != execs_.end()) {
    p = it->second;
  }
  if (!p || p->finished()) {
    return makeError("process " + execId.substr(0, 256) + " not found in container " + id(),
                     ENOENT);
  }
  return p;
}

void Container::forgetIfFinished(const std::shared_ptr<Process>& p) {
  if (!p->finished()) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = execs_.find(p->execId());
  if (it != execs_.end() && it->second == p) execs_.erase(it);
}

Status Container::signalAll(int signal) const {
  std::lock_guard<std::mutex> lock(mu_);
  return signalEveryProcess(signal);
}

Status Container::signalEveryProcess(int signal) const {
  // The cgroup knows every process, forks included; the init and exec'd processes are added in
  // case the cgroup cannot be read. Every process gets the signal even when one fails.
  std::set<pid_t> pids;
  for (pid_t pid : cgroup_.pids()) pids.insert(pid);
  if (init_ && !init_->exited()) pids.insert(init_->pid());
  for (const auto& [id, p] : execs_)
    if (!p->exited()) pids.insert(p->pid());
  size_t reached = 0;
  Status failed = okStatus();
  for (pid_t pid : pids) {
    if (pid <= 0) continue;
    if (::kill(pid, signal) == 0) {
      ++reached;
    } else if (errno != ESRCH && failed.ok()) {
      failed = sysError("signal " + std::to_string(signal) + " to pid " + std::to_string(pid));
    }
  }
  if (!failed.ok()) return failed;
  if (reached == 0) return makeError("container " + id() + " has no running process", ESRCH);
  return okStatus();
}

void Container::killAll() { (void)signalEveryProcess(SIGKILL); }

Status Container::remove(unsigned timeoutSec) {
  std::unique_lock<std::mutex> lock(mu_);
  if (state_ == ContainerState::Paused) (void)cgroup_.freeze(false);
  killAll();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeoutSec);
  std::vector<std::shared_ptr<Process>> all{init_};
  for (auto& [id, p] : execs_) all.push_back(p);
  for (auto& p : all) {
    while (!p->waitExitFor(100)) {
      if (timeoutSec && std::chrono::steady_clock::now() > deadline) {
        return makeError("container " + id() + ": processes did not exit within " +
                             std::to_string(timeoutSec) + "s",
                         ETIMEDOUT);
      }
      killAll();
    }
  }
  state_ = ContainerState::Stopped;
  initSpawn_.sync.reset();
  Status result = cgroup_.destroy();
  for (auto& p : all) p->stopStdio();
  storages_.clear();  // unmounts
  log::info("container removed", {{"container", id()}});
  return result;
}

Status Container::update(const grpc::LinuxResources& resources) {
  std::lock_guard<std::mutex> lock(mu_);
  KATA_TRY(cgroup_.apply(resources));
  if (!resources.cpu().cpus().empty()) cpusetPinned_ = true;
  return okStatus();
}

std::optional<std::string> Container::unpinnedCgroupPath() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (cpusetPinned_) return std::nullopt;
  return cgroup_.path();
}

Status Container::pause() {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_ == ContainerState::Running && init_->exited()) {
    return makeError("container " + id() + " is stopped, not running", EALREADY);
  }
  if (state_ != ContainerState::Running) {
    return makeError("container " + id() + " is " + stateName(state_) + ", not running", EALREADY);
  }
  KATA_TRY(cgroup_.freeze(true));
  state_ = ContainerState::Paused;
  return okStatus();
}

Status Container::resume() {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_ != ContainerState::Paused) {
    return makeError("container " + id() + " is " + stateName(state_) + ", not paused", EALREADY);
  }
  KATA_TRY(cgroup_.freeze(false));
  state_ = ContainerState::Running;
  return okStatus();
}

void Container::stats(grpc::CgroupStats* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  cgroup_.stats(out);
}

std::vector<pid_t> Container::pids() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cgroup_.pids();
}

}  // namespace kata::agent
