// The sandbox: the guest-wide state shared by a pod's containers (hostname, DNS, storages,
// the shared pid namespace) and the registry of containers.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/container.h"
#include "agent/oom_monitor.h"
#include "agent/reaper.h"
#include "agent/storage.h"
#include "lib/result.h"

namespace grpc {
class CreateSandboxRequest;
class CreateContainerRequest;
}  // namespace grpc

namespace kata::agent {

class Sandbox {
 public:
  /// `guestMode`: the agent is the VM's init and owns the whole guest (hostname, resolv.conf,
  /// sysctls). Off in host test mode, where only container-private state is touched.
  /// `modulesList`: where the kernel modules CreateSandbox asks for are found ("": only
  /// modules already in the kernel are accepted, as in host test mode).
  Sandbox(Reaper& reaper, bool guestMode, std::string modulesList = "")
      : reaper_(reaper), guestMode_(guestMode), modulesList_(std::move(modulesList)) {}
  ~Sandbox();

  bool guestMode() const { return guestMode_; }
  Reaper& reaper() { return reaper_; }

  Status create(const grpc::CreateSandboxRequest& req);
  /// Removes every container and unmounts the storages.
  Status destroy();

  Status createContainer(const grpc::CreateContainerRequest& req);
  /// Called (guest mode) when a container's /etc/resolv.conf names Docker's embedded DNS
  /// server, 127.0.0.11: the agent then relays DNS there (agent/dns_relay.h).
  void onDockerDns(std::function<void()> wanted) { dockerDnsWanted_ = std::move(wanted); }
  /// The container, or an ENOENT error naming the id (ids are validated first).
  Result<std::shared_ptr<Container>> container(const std::string& id) const;
  Status removeContainer(const std::string& id, unsigned timeoutSec);
  std::vector<std::string> containerIds() const;
  /// Cgroup paths of the containers whose cpuset follows the guest's CPUs.
  std::vector<std::string> unpinnedCgroupPaths() const;
  /// OOM events of this sandbox's containers (GetOOMEvent).
  OomMonitor& oomMonitor() { return oom_; }

 private:
  Reaper& reaper_;
  const bool guestMode_;
  const std::string modulesList_;
  std::function<void()> dockerDnsWanted_;
  mutable std::mutex mu_;
  bool created_ = false;
  std::string id_;
  std::map<std::string, std::shared_ptr<Container>> containers_;
  std::vector<std::string> creating_;  // ids being created (no lock held while spawning)
  std::vector<MountedStorage> storages_;
  pid_t pidNsHolder_ = -1;
  std::string sharedPidNs_;
  OomMonitor oom_;
};

/// Writes resolv.conf content for `dns` lines ("nameserver 8.8.8.8" or a bare address).
std::string resolvConf(const std::vector<std::string>& dns);

}  // namespace kata::agent
