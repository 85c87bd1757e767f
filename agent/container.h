// A container in the guest: its configuration, cgroup, init process (created but waiting
// until StartContainer) and exec'd processes.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/cgroups.h"
#include "agent/container_config.h"
#include "agent/process.h"
#include "agent/reaper.h"
#include "agent/spawn.h"
#include "agent/storage.h"
#include "lib/result.h"

namespace grpc {
class CreateContainerRequest;
class ExecProcessRequest;
class LinuxResources;
class CgroupStats;
}  // namespace grpc

namespace kata::agent {

enum class ContainerState { Created, Running, Paused, Stopped };
const char* stateName(ContainerState state);

class Container {
 public:
  /// Builds the container up to the point where its init waits for StartContainer. Everything
  /// is undone on error.
  static Result<std::shared_ptr<Container>> create(const grpc::CreateContainerRequest& req,
                                                   const SandboxContext& ctx, Reaper& reaper);
  ~Container();

  const std::string& id() const { return config_.id; }
  ContainerState state() const;

  Status start();
  /// Starts an exec'd process; the exec id must be new in this container.
  Result<std::shared_ptr<Process>> exec(const grpc::ExecProcessRequest& req);
  /// "" or the init's exec id: the init; otherwise an exec'd process. ENOENT for an unknown
  /// exec id and for a process that is finished (Process::finished()).
  Result<std::shared_ptr<Process>> process(const std::string& execId) const;
  /// Drops an exec'd process once it is finished (no-op otherwise); the init stays, unlisted.
  void forgetIfFinished(const std::shared_ptr<Process>& p);
  std::shared_ptr<Process> init() const { return init_; }
  /// Sends `signal` to every process of the container (its cgroup's, plus the init and the
  /// exec'd processes). ESRCH when none is left.
  Status signalAll(int signal) const;

  /// Kills every process, waits up to `timeoutSec` (0 = no limit) for them, then frees the
  /// cgroup, storages and stdio. On timeout nothing is freed and the call may be retried.
  Status remove(unsigned timeoutSec);
  Status update(const grpc::LinuxResources& resources);
  Status pause();
  Status resume();
  void stats(grpc::CgroupStats* out) const;
  std::vector<pid_t> pids() const;
  /// The cgroup path when the container did not ask for specific CPUs (its cpuset then
  /// follows the CPUs the guest has, OnlineCPUMem).
  std::optional<std::string> unpinnedCgroupPath() const;
  /// See Cgroup::oomEventFd.
  Result<UniqueFd> oomEventFd() const { return cgroup_.oomEventFd(); }

 private:
  Container(ContainerConfig config, Reaper& reaper) : config_(std::move(config)), reaper_(reaper) {}
  std::vector<int> execNamespaces() const;
  Status signalEveryProcess(int signal) const;  // mu_ held
  void killAll();                               // mu_ held

  ContainerConfig config_;
  Reaper& reaper_;
  mutable std::mutex mu_;
  ContainerState state_ = ContainerState::Created;
  Cgroup cgroup_;
  std::vector<MountedStorage> storages_;
  std::shared_ptr<Process> init_;
  std::string initExecId_;
  SpawnedProcess initSpawn_;
  std::map<std::string, std::shared_ptr<Process>> execs_;
  bool cpusetPinned_ = false;  // linux.resources.cpu.cpus was given
};

}  // namespace kata::agent
