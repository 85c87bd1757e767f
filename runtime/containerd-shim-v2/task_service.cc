#include "runtime/containerd-shim-v2/task_service.h"

#include <google/protobuf/util/time_util.h>
#include <json/json.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "lib/config.h"
#include "lib/container_id.h"
#include "lib/fs_util.h"
#include "lib/log.h"
#include "lib/mount.h"
#include "lib/mount_options.h"
#include "lib/oci_spec.h"
#include "lib/page_out.h"
#include "lib/pod_role.h"
#include "lib/random_hex.h"
#include "lib/version.h"
#include "protocols/containerd/events/task.pb.h"
#include "protocols/containerd/runtimeoptions/api.pb.h"
#include "protocols/containerd/types/task.pb.h"
#include "runtime/containerd-shim-v2/agent_relay.h"
#include "runtime/containerd-shim-v2/metrics.h"
#include "runtime/containerd-shim-v2/process_relay.h"
#include "runtime/virtcontainers/container.h"
#include "runtime/virtcontainers/hooks.h"
#include "runtime/virtcontainers/host_cgroup.h"
#include "runtime/virtcontainers/qemu.h"
#include "runtime/virtcontainers/rollback.h"
#include "runtime/virtcontainers/sandbox.h"
#include "runtime/virtcontainers/spec_convert.h"
#include "runtime/virtcontainers/store.h"

namespace kata::shimv2 {
namespace {

namespace events = ::containerd::events;
using TaskStatus = ::containerd::v1::types::Status;
using google::protobuf::Timestamp;
using google::protobuf::util::TimeUtil;

constexpr auto kOomRetry = std::chrono::seconds(1);
// How long Delete waits for the exec'd processes' relays to report their exits.
constexpr auto kExecsSettle = std::chrono::seconds(3);
// Most of the shim's code (configuration, VM boot, gRPC set-up) runs only while a container is
// created and started, yet would stay mapped, and counted in its PSS, for the pod's life: this
// long after a start, those pages go back to the page cache (lib/page_out.h), as kata-shim's.
constexpr auto kStartupPagesAfter = std::chrono::seconds(5);
// GetOOMEvent waits in the guest until an OOM happens: a long deadline, renewed.
constexpr int kOomCallTimeoutMs = 3600 * 1000;

Timestamp now() { return TimeUtil::GetCurrentTime(); }

// One process of a container: its init (containerd's exec id "") or an exec'd one.
struct Process {
  std::string execId;  // containerd's: "" for the init process
  ProcessIo io;
  std::optional<oci::Process> spec;  // exec'd processes, until started
  TaskStatus status = TaskStatus::CREATED;
  uint32_t exitStatus = 0;
  Timestamp exitedAt;
  std::unique_ptr<ProcessRelay> relay;
};

struct Container {
  vc::ContainerState state;
  std::string rootfs;  // where containerd's rootfs mounts were mounted ("" for none)
  size_t rootfsMounts = 0;
  bool paused = false;
  Process init;
  std::map<std::string, std::shared_ptr<Process>> execs;
};

// containerd's rootfs mounts (an overlay of the snapshot, or a bind), stacked on
// <bundle>/rootfs as runc's shim mounts them.
Status mountRootfs(const google::protobuf::RepeatedPtrField<::containerd::types::Mount>& mounts,
                   const std::string& target, size_t& mounted) {
  for (const auto& m : mounts) {
    mount::MountOptions o = mount::parseMountOptions({m.options().begin(), m.options().end()});
    // containerd's rootfs source and options are its snapshotter's: trusted like containerd.
    KATA_TRY(mount::mount(m.source(), target, m.type(), o.flags, o.data));
    mounted++;
    if (o.bind() && o.readonly()) {
      KATA_TRY(mount::mount("", target, "", o.flags | MS_REMOUNT, ""));
    }
  }
  return okStatus();
}

void unmountRootfs(const std::string& target, size_t count) {
  for (size_t i = 0; i < count; i++) {
    if (auto st = mount::unmount(target, UMOUNT_NOFOLLOW); !st.ok())
      log::warn("rootfs unmount failed", {{"error", st.error().str()}});
  }
}

class TaskService final : public TaskHandler {
 public:
  TaskService(const Options& options, EventPublisher& events, std::function<void()> shutdown)
      : options_(options), events_(events), requestShutdown_(std::move(shutdown)) {
    pager_ = std::thread([this] { pageOutLoop(); });
  }

  ~TaskService() override {
    std::vector<std::unique_ptr<ProcessRelay>> relays;
    {
      std::lock_guard lock(mu_);
      for (auto& [id, c] : containers_) takeRelays(*c, relays);
    }
    relays.clear();
    if (sandbox_) {
      (void)vc::destroySandbox(*sandbox_);
      relay_.stop();
    }
    stopOomWatch();
    {
      std::lock_guard lock(pagerMu_);
      pagerStop_ = true;
    }
    pagerCv_.notify_all();
    pager_.join();
  }

  // ---- Create / Start / Delete ------------------------------------------------------------

  Result<taskapi::CreateTaskResponse> create(ttrpc::Context&,
                                             const taskapi::CreateTaskRequest& req) override {
    std::lock_guard op(opMu_);
    KATA_TRY(validateContainerId(req.id()));
    if (!req.checkpoint().empty())
      return makeError("restoring from a checkpoint is not supported", ENOTSUP);
    {
      std::lock_guard lock(mu_);
      if (containers_.count(req.id()))
        return makeError("container " + req.id() + " already exists", EEXIST);
    }
    if (req.bundle().empty() || req.bundle()[0] != '/')
      return makeError("bundle: want an absolute path", EINVAL);

    auto c = std::make_shared<Container>();
    vc::Rollback undo;
    if (req.rootfs_size() > 0) {
      c->rootfs = req.bundle() + "/rootfs";
      KATA_TRY(mkdirAll(c->rootfs, 0711));
      undo.add([&c] { unmountRootfs(c->rootfs, c->rootfsMounts); });
      KATA_TRY_CTX(mountRootfs(req.rootfs(), c->rootfs, c->rootfsMounts), "rootfs");
    }
    KATA_ASSIGN_OR_RETURN(oci::Spec spec, oci::loadSpec(req.bundle()));
    if (!spec.process)
      return makeError("config.json: process: required to create a container", EINVAL);
    KATA_TRY(vc::checkGuestCanHonour(spec));
    KATA_ASSIGN_OR_RETURN(oci::PodRole role, oci::podRole(spec));

    if (!sandbox_) {
      if (role.member)
        return makeError("container " + req.id() + " belongs to sandbox " + role.sandboxId +
                             ", which this shim does not serve",
                         EINVAL);
      KATA_TRY(createSandbox(req, spec, role.podSandbox));
      undo.add([this] { destroyPod(); });
    } else if (!role.member || role.sandboxId != sandbox_->id) {
      return makeError("this shim serves sandbox " + sandbox_->id + ": container " + req.id() +
                           " is not one of its pod",
                       EINVAL);
    }

    vc::ContainerRequest creq;
    creq.id = req.id();
    creq.bundle = req.bundle();
    creq.spec = &spec;
    creq.guestSeccomp = !config_.runtime.disable_guest_seccomp;
    KATA_ASSIGN_OR_RETURN(c->state, vc::createContainerInSandbox(*sandbox_, creq));
    undo.add([this, &c] {
      (void)vc::removeContainerFromSandbox(*sandbox_, c->state, true);
      (void)removeAll(vc::StorePaths::sandboxDir(sandbox_->id) + "/" + c->state.id);
    });
    KATA_TRY(vc::saveContainer(c->state));
    sandbox_->containers.push_back(req.id());
    undo.add([this, id = req.id()] {
      auto& m = sandbox_->containers;
      m.erase(std::remove(m.begin(), m.end(), id), m.end());
    });
    KATA_TRY(vc::saveSandbox(*sandbox_));

    c->init.io = {req.stdin(), req.stdout(), req.stderr(), req.terminal()};
    KATA_ASSIGN_OR_RETURN(c->init.relay, startRelay(req.id(), "", c->init.io));

    events::TaskCreate ev;
    ev.set_container_id(req.id());
    ev.set_bundle(req.bundle());
    *ev.mutable_rootfs() = req.rootfs();
    ev.mutable_io()->set_stdin(req.stdin());
    ev.mutable_io()->set_stdout(req.stdout());
    ev.mutable_io()->set_stderr(req.stderr());
    ev.mutable_io()->set_terminal(req.terminal());
    ev.set_pid(pid());
    undo.commit();
    {
      std::lock_guard lock(mu_);
      containers_[req.id()] = std::move(c);
    }
    events_.publish(kTopicCreate, ev);
    log::info("container created", {{"container", req.id()}, {"sandbox", sandbox_->id}});
    taskapi::CreateTaskResponse resp;
    resp.set_pid(pid());
    return resp;
  }

  Result<taskapi::StartResponse> start(ttrpc::Context&, const taskapi::StartRequest& req) override {
    std::lock_guard op(opMu_);
    KATA_ASSIGN_OR_RETURN(std::shared_ptr<Container> c, find(req.id()));
    taskapi::StartResponse resp;
    resp.set_pid(pid());
    if (req.exec_id().empty()) {
      if (statusOf(c->init) != TaskStatus::CREATED)
        return makeError("container " + req.id() + " is not created", EBUSY);
      KATA_TRY(vc::startInGuest(*sandbox_, req.id()));
      setStatus(c->init, TaskStatus::RUNNING);
      c->state.status = "running";
      (void)vc::saveContainer(c->state);
      if (req.id() == sandbox_->id) {
        const auto& q = config_.qemu;
        vc::releaseBootFilePages(sandbox_->qemu, q.kernel, q.disable_image_nvdimm ? "" : q.image);
      }
      schedulePageOut();
      events::TaskStart ev;
      ev.set_container_id(req.id());
      ev.set_pid(pid());
      events_.publish(kTopicStart, ev);
      return resp;
    }
    KATA_ASSIGN_OR_RETURN(std::shared_ptr<Process> p, findExec(*c, req.exec_id()));
    if (statusOf(*p) != TaskStatus::CREATED)
      return makeError("process " + req.exec_id() + " is not created", EBUSY);
    if (statusOf(c->init) != TaskStatus::RUNNING)
      return makeError("container " + req.id() + " is not running", EBUSY);
    KATA_TRY(vc::execInGuest(*sandbox_, req.id(), req.exec_id(), *p->spec));
    auto relay = startRelay(req.id(), req.exec_id(), p->io);
    if (!relay.ok()) {
      (void)vc::signalInGuest(*sandbox_, req.id(), req.exec_id(), SIGKILL);
      return std::move(relay).error();
    }
    {
      std::lock_guard lock(mu_);
      p->relay = std::move(*relay);
      if (p->status == TaskStatus::CREATED) p->status = TaskStatus::RUNNING;
    }
    events::TaskExecStarted ev;
    ev.set_container_id(req.id());
    ev.set_exec_id(req.exec_id());
    ev.set_pid(pid());
    events_.publish(kTopicExecStarted, ev);
    return resp;
  }

  Result<taskapi::DeleteResponse> remove(ttrpc::Context&,
                                         const taskapi::DeleteRequest& req) override {
    std::lock_guard op(opMu_);
    KATA_ASSIGN_OR_RETURN(std::shared_ptr<Container> c, find(req.id()));
    taskapi::DeleteResponse resp;
    resp.set_pid(pid());
    if (!req.exec_id().empty()) {
      KATA_ASSIGN_OR_RETURN(std::shared_ptr<Process> p, findExec(*c, req.exec_id()));
      std::unique_ptr<ProcessRelay> relay;
      {
        std::lock_guard lock(mu_);
        if (p->status == TaskStatus::RUNNING)
          return makeError("cannot delete process " + req.exec_id() + ": it is running", EBUSY);
        resp.set_exit_status(p->exitStatus);
        *resp.mutable_exited_at() = p->exitedAt;
        relay = std::move(p->relay);
        c->execs.erase(req.exec_id());
      }
      return resp;  // the relay, done, is joined here: outside the lock
    }
    TaskStatus st = statusOf(c->init);
    if (st == TaskStatus::RUNNING || st == TaskStatus::PAUSED)
      return makeError("cannot delete container " + req.id() + ": it is running", EBUSY);
    settleExecs(*c);
    std::shared_ptr<Container> gone;
    std::vector<std::unique_ptr<ProcessRelay>> relays;
    {
      std::lock_guard lock(mu_);
      resp.set_exit_status(c->init.exitStatus);
      *resp.mutable_exited_at() = c->init.exitedAt;
      takeRelays(*c, relays);
      gone = std::move(containers_[req.id()]);
      containers_.erase(req.id());
    }
    relays.clear();
    Status removed = vc::removeContainerFromSandbox(*sandbox_, gone->state, false);
    if (!removed.ok()) log::warn(removed.error().str(), {{"container", req.id()}});
    (void)removeAll(vc::StorePaths::sandboxDir(sandbox_->id) + "/" + req.id());
    auto& m = sandbox_->containers;
    m.erase(std::remove(m.begin(), m.end(), req.id()), m.end());
    unmountRootfs(gone->rootfs, gone->rootfsMounts);
    if (m.empty()) {
      destroyPod();
    } else {
      (void)vc::saveSandbox(*sandbox_);
    }
    events::TaskDelete ev;
    ev.set_container_id(req.id());
    ev.set_pid(resp.pid());
    ev.set_exit_status(resp.exit_status());
    *ev.mutable_exited_at() = resp.exited_at();
    events_.publish(kTopicDelete, ev);
    return resp;
  }

  // ---- Processes --------------------------------------------------------------------------

  Result<Empty> exec(ttrpc::Context&, const taskapi::ExecProcessRequest& req) override {
    std::lock_guard op(opMu_);
    KATA_ASSIGN_OR_RETURN(std::shared_ptr<Container> c, find(req.id()));
    KATA_TRY(validateContainerId(req.exec_id()));
    KATA_ASSIGN_OR_RETURN(oci::Process spec,
                          oci::parseProcess(req.spec().value(), "exec process spec"));
    spec.terminal = req.terminal();
    KATA_TRY(vc::checkGuestCanHonour(spec));
    if (spec.args.empty()) return makeError("exec: no command given", EINVAL);
    {
      std::lock_guard lock(mu_);
      if (c->init.status != TaskStatus::RUNNING && c->init.status != TaskStatus::PAUSED)
        return makeError("container " + req.id() + " is not running", EBUSY);
      if (c->execs.count(req.exec_id()) || req.exec_id() == req.id())
        return makeError("process " + req.exec_id() + " already exists", EEXIST);
      auto p = std::make_shared<Process>();
      p->execId = req.exec_id();
      p->io = {req.stdin(), req.stdout(), req.stderr(), req.terminal()};
      p->spec = std::move(spec);
      c->execs[req.exec_id()] = std::move(p);
    }
    events::TaskExecAdded ev;
    ev.set_container_id(req.id());
    ev.set_exec_id(req.exec_id());
    events_.publish(kTopicExecAdded, ev);
    return Empty();
  }

  Result<Empty> kill(ttrpc::Context&, const taskapi::KillRequest& req) override {
    std::lock_guard op(opMu_);  // sandbox_ is only read under it
    KATA_ASSIGN_OR_RETURN(std::shared_ptr<Process> p, findProcess(req.id(), req.exec_id()));
    TaskStatus st = statusOf(*p);
    if (st == TaskStatus::STOPPED) return makeError("process already finished", ESRCH);
    if (st == TaskStatus::CREATED && !req.exec_id().empty())
      return makeError("process " + req.exec_id() + " is not started", ESRCH);
    // The agent's exec id of the init process is the container id; "" reaches every process.
    std::string target = req.exec_id().empty() ? req.id() : req.exec_id();
    if (req.all()) target.clear();
    return unit(vc::signalInGuest(*sandbox_, req.id(), target, int(req.signal())));
  }

  Result<Empty> resizePty(ttrpc::Context&, const taskapi::ResizePtyRequest& req) override {
    std::lock_guard op(opMu_);  // sandbox_ is only read under it
    KATA_ASSIGN_OR_RETURN(std::shared_ptr<Process> p, findProcess(req.id(), req.exec_id()));
    if (!p->io.terminal) return makeError("process has no terminal", EINVAL);
    if (statusOf(*p) != TaskStatus::RUNNING && statusOf(*p) != TaskStatus::PAUSED) return Empty();
    std::string target = req.exec_id().empty() ? req.id() : req.exec_id();
    return unit(vc::resizeInGuest(*sandbox_, req.id(), target, req.height(), req.width()));
  }

  Result<Empty> closeIO(ttrpc::Context&, const taskapi::CloseIORequest& req) override {
    KATA_ASSIGN_OR_RETURN(std::shared_ptr<Process> p, findProcess(req.id(), req.exec_id()));
    if (req.stdin()) {
      std::lock_guard lock(mu_);
      if (p->relay) p->relay->closeStdin();
    }
    return Empty();
  }

  Result<taskapi::WaitResponse> wait(ttrpc::Context& ctx,
                                     const taskapi::WaitRequest& req) override {
    KATA_ASSIGN_OR_RETURN(std::shared_ptr<Process> p, findProcess(req.id(), req.exec_id()));
    ctx.onDone([this] {
      std::lock_guard lock(mu_);
      cv_.notify_all();
    });
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return p->status == TaskStatus::STOPPED || ctx.done(); });
    if (p->status != TaskStatus::STOPPED) return makeError("wait cancelled", ECANCELED);
    taskapi::WaitResponse resp;
    resp.set_exit_status(p->exitStatus);
    *resp.mutable_exited_at() = p->exitedAt;
    return resp;
  }

  Result<taskapi::StateResponse> state(ttrpc::Context&, const taskapi::StateRequest& req) override {
    KATA_ASSIGN_OR_RETURN(std::shared_ptr<Container> c, find(req.id()));
    KATA_ASSIGN_OR_RETURN(std::shared_ptr<Process> p, findProcess(req.id(), req.exec_id()));
    std::lock_guard lock(mu_);
    taskapi::StateResponse resp;
    resp.set_id(req.id());
    resp.set_exec_id(req.exec_id());
    resp.set_bundle(c->state.bundle);
    resp.set_pid(pid());
    TaskStatus st = p->status;
    if (st == TaskStatus::RUNNING && c->paused) st = TaskStatus::PAUSED;
    resp.set_status(st);
    resp.set_stdin(p->io.stdinPath);
    resp.set_stdout(p->io.stdoutPath);
    resp.set_stderr(p->io.stderrPath);
    resp.set_terminal(p->io.terminal);
    resp.set_exit_status(p->exitStatus);
    *resp.mutable_exited_at() = p->exitedAt;
    return resp;
  }

  // The host processes of the task, as containerd expects pids (runc's shim gives the
  // container's host pids): QEMU is the one host process that stands for every process in the
  // VM, as upstream's shim v2 answers. The guest's own pids mean nothing on the host.
  Result<taskapi::PidsResponse> pids(ttrpc::Context&, const taskapi::PidsRequest& req) override {
    KATA_ASSIGN_OR_RETURN(std::shared_ptr<Container> c, find(req.id()));
    (void)c;
    taskapi::PidsResponse resp;
    resp.add_processes()->set_pid(pid());
    return resp;
  }

  Result<Empty> pause(ttrpc::Context&, const taskapi::PauseRequest& req) override {
    return pauseOrResume(req.id(), true);
  }
  Result<Empty> resume(ttrpc::Context&, const taskapi::ResumeRequest& req) override {
    return pauseOrResume(req.id(), false);
  }

  Result<Empty> checkpoint(ttrpc::Context&, const taskapi::CheckpointTaskRequest&) override {
    return makeError("checkpoint is not supported: the container's state is inside a VM", ENOTSUP);
  }

  Result<Empty> update(ttrpc::Context&, const taskapi::UpdateTaskRequest& req) override {
    std::lock_guard op(opMu_);
    KATA_ASSIGN_OR_RETURN(std::shared_ptr<Container> c, find(req.id()));
    TaskStatus st = statusOf(c->init);
    if (st != TaskStatus::RUNNING && st != TaskStatus::PAUSED)
      return makeError("container " + req.id() + " is not running", EBUSY);
    KATA_ASSIGN_OR_RETURN(oci::Resources r,
                          oci::parseResources(req.resources().value(), "update resources"));
    return unit(vc::updateInGuest(*sandbox_, req.id(), r));
  }

  Result<taskapi::StatsResponse> stats(ttrpc::Context&, const taskapi::StatsRequest& req) override {
    std::lock_guard op(opMu_);  // sandbox_ is only read under it
    KATA_ASSIGN_OR_RETURN(std::shared_ptr<Container> c, find(req.id()));
    (void)c;
    KATA_ASSIGN_OR_RETURN(::grpc::StatsContainerResponse s, vc::statsInGuest(*sandbox_, req.id()));
    taskapi::StatsResponse resp;
    resp.mutable_stats()->set_type_url(kMetricsTypeUrl);
    resp.mutable_stats()->set_value(toMetrics(s).SerializeAsString());
    return resp;
  }

  Result<taskapi::ConnectResponse> connect(ttrpc::Context&,
                                           const taskapi::ConnectRequest&) override {
    taskapi::ConnectResponse resp;
    resp.set_shim_pid(uint32_t(::getpid()));
    resp.set_task_pid(pid());
    resp.set_version(kVersion);
    return resp;
  }

  Result<Empty> shutdown(ttrpc::Context&, const taskapi::ShutdownRequest& req) override {
    std::lock_guard op(opMu_);
    {
      std::lock_guard lock(mu_);
      if (!containers_.empty() && !req.now()) return Empty();  // the pod still has containers
    }
    requestShutdown_();
    return Empty();
  }

 private:
  static Result<Empty> unit(Status st) {
    if (!st.ok()) return std::move(st).error();
    return Empty();
  }

  // The host process that stands for every process of the pod: QEMU (as upstream's shim v2).
  // Set with the sandbox, read by calls that do not take opMu_ (State, Wait, relays' exits).
  uint32_t pid() const { return taskPid_.load(); }

  // Shared: a concurrent Delete takes it out of the map, not from under a running call.
  Result<std::shared_ptr<Container>> find(const std::string& id) {
    std::lock_guard lock(mu_);
    auto it = containers_.find(id);
    if (it == containers_.end()) return makeError("container " + id + " not found", ENOENT);
    return it->second;
  }

  // The init process (exec id "") or an exec'd one; the init's pointer keeps its container.
  Result<std::shared_ptr<Process>> findProcess(const std::string& id, const std::string& execId) {
    KATA_ASSIGN_OR_RETURN(std::shared_ptr<Container> c, find(id));
    if (execId.empty()) return std::shared_ptr<Process>(c, &c->init);
    return findExec(*c, execId);
  }

  Result<std::shared_ptr<Process>> findExec(Container& c, const std::string& execId) {
    std::lock_guard lock(mu_);
    auto it = c.execs.find(execId);
    if (it == c.execs.end()) return makeError("process " + execId + " not found", ENOENT);
    return it->second;
  }

  TaskStatus statusOf(const Process& p) {
    std::lock_guard lock(mu_);
    return p.status;
  }

  void setStatus(Process& p, TaskStatus s) {
    std::lock_guard lock(mu_);
    if (p.status != TaskStatus::STOPPED) p.status = s;
  }

  // The exec'd processes of a container whose init is gone died with it (its pid namespace
  // went): their relays report their statuses shortly. A Wait on one must get its answer
  // before the relays are stopped and the shim may exit; one whose relay never reports is
  // taken as killed.
  void settleExecs(Container& c) {
    std::vector<events::TaskExit> exits;
    {
      std::unique_lock lock(mu_);
      auto running = [&c] {
        return std::any_of(c.execs.begin(), c.execs.end(),
                           [](const auto& e) { return e.second->status == TaskStatus::RUNNING; });
      };
      cv_.wait_for(lock, kExecsSettle, [&] { return !running(); });
      for (auto& [execId, p] : c.execs) {
        if (p->status != TaskStatus::RUNNING) continue;
        p->status = TaskStatus::STOPPED;
        p->exitStatus = 128 + SIGKILL;
        p->exitedAt = now();
        events::TaskExit ev;
        ev.set_container_id(c.state.id);
        ev.set_id(execId);
        ev.set_pid(pid());
        ev.set_exit_status(p->exitStatus);
        *ev.mutable_exited_at() = p->exitedAt;
        exits.push_back(std::move(ev));
      }
    }
    cv_.notify_all();
    for (const auto& ev : exits) events_.publish(kTopicExit, ev);
  }

  static void takeRelays(Container& c, std::vector<std::unique_ptr<ProcessRelay>>& out) {
    if (c.init.relay) out.push_back(std::move(c.init.relay));
    for (auto& [id, p] : c.execs)
      if (p->relay) out.push_back(std::move(p->relay));
  }

  Result<Empty> pauseOrResume(const std::string& id, bool pause) {
    std::lock_guard op(opMu_);
    KATA_ASSIGN_OR_RETURN(std::shared_ptr<Container> c, find(id));
    if (statusOf(c->init) != TaskStatus::RUNNING)
      return makeError("container " + id + " is not running", EBUSY);
    {
      std::lock_guard lock(mu_);
      if (c->paused == pause)
        return makeError("container " + id + (pause ? " is paused already" : " is not paused"),
                         EBUSY);
    }
    KATA_TRY(vc::pauseInGuest(*sandbox_, id, pause));
    {
      std::lock_guard lock(mu_);
      c->paused = pause;
    }
    if (pause) {
      events::TaskPaused ev;
      ev.set_container_id(id);
      events_.publish(kTopicPaused, ev);
    } else {
      events::TaskResumed ev;
      ev.set_container_id(id);
      events_.publish(kTopicResumed, ev);
    }
    return Empty();
  }

  // The configuration: the path CRI's runtime options name, else $KATA_CONF_FILE or the
  // default locations (lib/config.h).
  Result<config::Config> loadConfig(const taskapi::CreateTaskRequest& req) {
    std::string path;
    if (req.has_options() && !req.options().value().empty()) {
      ::runtimeoptions::v1::Options o;
      if (!o.ParseFromString(req.options().value()))
        return makeError("runtime options: cannot decode " + req.options().type_url(), EINVAL);
      path = o.config_path();
    }
    return config::load(path);
  }

  Status createSandbox(const taskapi::CreateTaskRequest& req, const oci::Spec& spec,
                       bool podSandbox) {
    KATA_ASSIGN_OR_RETURN(config_, loadConfig(req));
    vc::SandboxSpec ss;
    ss.id = req.id();
    ss.hostname = spec.hostname;
    ss.netns = vc::specNetns(spec);
    ss.sharedPidNamespace = podSandbox;
    const Json::Value hooks = oci::toJson(spec)["hooks"];
    ss.beforeNetworkScan = [&](const std::string& netns) {
      oci::State st;
      st.id = req.id();
      st.status = "created";
      st.bundle = req.bundle();
      st.annotations = spec.annotations;
      return vc::runCreateHooks(hooks, st, netns);
    };
    if (spec.linux) {
      ss.resources = spec.linux->resources;
      if (config_.runtime.sandbox_cgroup_only) {
        KATA_ASSIGN_OR_RETURN(ss.hostCgroup, vc::hostCgroupPath(spec.linux->cgroupsPath));
      }
    }
    ss.startAgentRelay = [this](const vc::AgentRelayRequest& r) { return relay_.start(r); };
    auto created = vc::createSandbox(config_, ss);
    if (!created.ok()) {
      relay_.stop();
      return std::move(created).error();
    }
    sandbox_ = std::move(*created);
    taskPid_ = uint32_t(sandbox_->qemu.pid);
    startOomWatch();
    return okStatus();
  }

  // The VM and everything of the sandbox's: after its last container, or a failed create.
  void destroyPod() {
    if (!sandbox_) return;
    oomStop_ = true;  // its call fails once the VM is gone: no retry then
    oomCv_.notify_all();
    if (auto st = vc::destroySandbox(*sandbox_); !st.ok())
      log::warn("sandbox teardown: " + st.error().str(), {{"sandbox", sandbox_->id}});
    relay_.stop();
    stopOomWatch();
    sandbox_.reset();
  }

  Result<std::unique_ptr<ProcessRelay>> startRelay(const std::string& cid,
                                                   const std::string& execId, const ProcessIo& io) {
    ProcessRelay::Target t;
    t.agentUrl = sandbox_->agentUrl;
    t.container = cid;
    t.execId = execId.empty() ? cid : execId;
    t.vm = sandbox_->qemu;
    return ProcessRelay::start(t, io,
                               [this, cid, execId](int status) { onExit(cid, execId, status); });
  }

  // A relay's end: the process's status is known (or the agent is lost).
  void onExit(const std::string& cid, const std::string& execId, int status) {
    events::TaskExit ev;
    {
      std::lock_guard lock(mu_);
      auto it = containers_.find(cid);
      if (it == containers_.end()) return;  // removed: its relays were cancelled
      Process* p = &it->second->init;
      if (!execId.empty()) {
        auto e = it->second->execs.find(execId);
        if (e == it->second->execs.end()) return;
        p = e->second.get();
      }
      if (p->status == TaskStatus::STOPPED) return;
      p->status = TaskStatus::STOPPED;
      p->exitStatus = uint32_t(status);
      p->exitedAt = now();
      ev.set_container_id(cid);
      ev.set_id(execId.empty() ? cid : execId);
      ev.set_pid(pid());
      ev.set_exit_status(p->exitStatus);
      *ev.mutable_exited_at() = p->exitedAt;
      if (execId.empty()) it->second->state.status = "stopped";
    }
    cv_.notify_all();
    events_.publish(kTopicExit, ev);
  }

  void schedulePageOut() {
    {
      std::lock_guard lock(pagerMu_);
      pageOutAt_ = std::chrono::steady_clock::now() + kStartupPagesAfter;
    }
    pagerCv_.notify_all();
  }

  void pageOutLoop() {
    std::unique_lock lock(pagerMu_);
    while (!pagerStop_) {
      if (!pageOutAt_) {
        pagerCv_.wait(lock);
        continue;
      }
      if (pagerCv_.wait_until(lock, *pageOutAt_, [this] { return pagerStop_; })) return;
      if (std::chrono::steady_clock::now() < *pageOutAt_) continue;  // rescheduled meanwhile
      pageOutAt_.reset();
      lock.unlock();
      auto advised = pageOutOwnFileMappings("/proc/self/exe");
      if (!advised.ok()) log::debug("start-up pages kept: " + advised.error().str());
      lock.lock();
    }
  }

  // The guest's OOM kills, as containerd's /tasks/oom events, for every container of the pod.
  void startOomWatch() {
    oomStop_ = false;
    oomThread_ = std::thread([this, url = sandbox_->agentUrl] {
      auto agent = vc::AgentClient::create(url);
      if (!agent.ok()) return;
      while (!oomStop_) {
        auto ev = agent->call("GetOOMEvent", &::grpc::AgentService::Stub::GetOOMEvent,
                              ::grpc::GetOOMEventRequest(), kOomCallTimeoutMs);
        if (oomStop_) return;
        if (!ev.ok()) {
          if (ev.error().code == ENOTSUP) return;  // an agent without OOM events
          std::unique_lock lock(oomMu_);
          oomCv_.wait_for(lock, kOomRetry, [this] { return oomStop_.load(); });
          continue;
        }
        events::TaskOOM oom;
        oom.set_container_id(ev->container_id());
        log::info("OOM kill in the guest", {{"container", ev->container_id()}});
        events_.publish(kTopicOom, oom);
      }
    });
  }

  void stopOomWatch() {
    oomStop_ = true;
    oomCv_.notify_all();
    // Its call ends when the VM is gone (the relay's connections close).
    if (oomThread_.joinable()) oomThread_.join();
  }

  const Options options_;
  EventPublisher& events_;
  std::function<void()> requestShutdown_;
  config::Config config_;
  AgentRelay relay_;
  // Set once the pod's VM runs; only changed under opMu_.
  std::optional<vc::SandboxState> sandbox_;
  std::atomic<uint32_t> taskPid_{0};
  std::atomic<bool> oomStop_{false};
  std::mutex oomMu_;
  std::condition_variable oomCv_;  // wakes the OOM watch's retry wait
  std::thread oomThread_;
  std::mutex pagerMu_;
  std::condition_variable pagerCv_;
  std::optional<std::chrono::steady_clock::time_point> pageOutAt_;
  bool pagerStop_ = false;
  std::thread pager_;  // pageOutLoop

  // One operation on the sandbox at a time (create, start, delete, kill, ...): sandbox_ is
  // only used under it. State, Wait, CloseIO, Pids and Connect do without it.
  std::mutex opMu_;
  std::mutex mu_;  // containers_ and process state; never held across an agent call
  std::condition_variable cv_;
  std::map<std::string, std::shared_ptr<Container>> containers_;
};

}  // namespace

std::unique_ptr<TaskHandler> makeTaskService(const Options& options, EventPublisher& events,
                                             std::function<void()> requestShutdown) {
  return std::make_unique<TaskService>(options, events, std::move(requestShutdown));
}

Status cleanupAfterDeadShim(const Options& options, const std::string& bundle) {
  KATA_TRY(validateContainerId(options.id));
  Status first;
  // The sandbox of this id, when it is one: its QEMU (found by pid), mounts, netns, cgroup.
  if (::access(vc::StorePaths::sandboxDir(options.id).c_str(), F_OK) == 0) {
    auto s = vc::loadSandbox(options.id);
    vc::SandboxState sandbox;
    if (s.ok()) {
      sandbox = std::move(*s);
    } else {
      log::warn("sandbox state unreadable, cleaning up by name: " + s.error().str());
      sandbox.id = options.id;
    }
    sandbox.agentRelayInProcess = true;  // the dead shim was the relay
    for (const auto& cid : sandbox.containers) (void)vc::unshareAll(sandbox.id, cid, {});
    first = vc::destroySandbox(sandbox);
  }
  // containerd's rootfs, mounted by the dead shim (every mount stacked there).
  const std::string rootfs = bundle + "/rootfs";
  for (int i = 0; i < 8; i++) {
    auto mounted = mount::isMountPoint(rootfs);
    if (!mounted.ok() || !*mounted) break;
    if (auto st = mount::unmount(rootfs, UMOUNT_NOFOLLOW); !st.ok()) {
      if (first.ok()) first = std::move(st);
      break;
    }
  }
  return first;
}

}  // namespace kata::shimv2
