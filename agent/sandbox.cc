#include "agent/sandbox.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>

#include "agent/modules.h"
#include "lib/container_id.h"
#include "lib/dns_message.h"
#include "lib/fs_util.h"
#include "lib/log.h"
#include "protocols/agent.pb.h"

namespace kata::agent {

std::string resolvConf(const std::vector<std::string>& dns) {
  std::string out;
  for (const auto& line : dns) {
    if (line.find_first_of(" \t") == std::string::npos) {
      out += "nameserver " + line + "\n";
    } else {
      out += line + "\n";
    }
  }
  return out;
}

Sandbox::~Sandbox() { (void)destroy(); }

Status Sandbox::create(const grpc::CreateSandboxRequest& req) {
  std::lock_guard<std::mutex> lock(mu_);
  if (created_) return makeError("sandbox already created", EEXIST);
  if (!req.sandbox_id().empty()) KATA_TRY_CTX(validateContainerId(req.sandbox_id()), "sandbox id");
  if (req.hostname().size() > 64) return makeError("hostname is longer than 64 bytes", EINVAL);
  if (req.dns_size() > 64) return makeError("too many dns entries", EINVAL);
  std::vector<std::string> dns;
  for (const auto& d : req.dns()) {
    if (d.size() > 1024 || d.find('\n') != std::string::npos) {
      return makeError("dns entry \"" + d.substr(0, 64) + "\" is invalid", EINVAL);
    }
    dns.push_back(d);
  }
  if (req.storages_size() > 64) return makeError("too many storages", EINVAL);
  if (req.kernel_modules_size() > 64) return makeError("too many kernel modules", EINVAL);
  // Before the storages, which may need them (9p): upstream's agent modprobes them here.
  std::vector<RequestedModule> modules;
  for (const auto& m : req.kernel_modules()) {
    modules.push_back({m.name(), {m.parameters().begin(), m.parameters().end()}});
  }
  KATA_TRY(requireModules(modules, modulesList_));
  std::vector<MountedStorage> storages;
  for (const auto& s : req.storages()) {
    KATA_ASSIGN_OR_RETURN(auto m, mountStorage(s));
    log::info("storage mounted", {{"mount-point", m.mountPoint}, {"driver", s.driver()}});
    storages.push_back(std::move(m));
  }
  if (guestMode_) {
    // The VM belongs to this sandbox: its hostname and resolver are the pod's.
    if (!req.hostname().empty() &&
        ::sethostname(req.hostname().c_str(), req.hostname().size()) != 0) {
      return sysError("sethostname");
    }
    if (!dns.empty()) KATA_TRY(writeFileAtomic("/etc/resolv.conf", resolvConf(dns), 0644));
  } else if (!req.hostname().empty() || !dns.empty()) {
    log::debug("host test mode: sandbox hostname and DNS not applied to the host");
  }
  if (req.sandbox_pidns()) {
    KATA_ASSIGN_OR_RETURN(pidNsHolder_, spawnPidNamespaceHolder(reaper_, [](int) {}));
    sharedPidNs_ = "/proc/" + std::to_string(pidNsHolder_) + "/ns/pid";
  }
  storages_ = std::move(storages);
  id_ = req.sandbox_id();
  created_ = true;
  log::info("sandbox created", {{"sandbox", id_}});
  return okStatus();
}

Status Sandbox::destroy() {
  std::vector<std::string> ids = containerIds();
  Status result;
  for (const auto& id : ids) {
    auto s = removeContainer(id, 10);
    if (!s.ok() && result.ok()) result = s;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (pidNsHolder_ > 0) ::kill(pidNsHolder_, SIGKILL);
  pidNsHolder_ = -1;
  sharedPidNs_.clear();
  while (!storages_.empty()) storages_.pop_back();  // unmount in reverse order
  created_ = false;
  return result;
}

Status Sandbox::createContainer(const grpc::CreateContainerRequest& req) {
  const std::string& id = req.container_id();
  KATA_TRY_CTX(validateContainerId(id), "container id");
  SandboxContext ctx;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (containers_.count(id) ||
        std::find(creating_.begin(), creating_.end(), id) != creating_.end()) {
      return makeError("container " + id + " already exists", EEXIST);
    }
    creating_.push_back(id);
    ctx.guestMode = guestMode_;
    ctx.sharedPidNs = sharedPidNs_;
  }
  if (ctx.guestMode && dockerDnsWanted_) {
    for (const auto& m : req.oci().mounts()) {
      if (m.destination() != "/etc/resolv.conf") continue;
      auto text = readFile(m.source(), 64 * 1024);
      if (text.ok() && dns::resolvConfNamesDockerDns(*text)) dockerDnsWanted_();
    }
  }
  auto c = Container::create(req, ctx, reaper_);
  std::lock_guard<std::mutex> lock(mu_);
  creating_.erase(std::find(creating_.begin(), creating_.end(), id));
  if (!c.ok()) return std::move(c).error();
  auto efd = (*c)->oomEventFd();
  Status watched = efd.ok() ? oom_.watch(id, std::move(efd).value()) : Status(efd.error());
  if (!watched.ok()) {
    log::warn("no OOM events for container", {{"container", id}, {"error", watched.error().str()}});
  }
  containers_[id] = std::move(c).value();
  return okStatus();
}

Result<std::shared_ptr<Container>> Sandbox::container(const std::string& id) const {
  KATA_TRY_CTX(validateContainerId(id), "container id");
  std::lock_guard<std::mutex> lock(mu_);
  auto it = containers_.find(id);
  if (it == containers_.end()) return makeError("container " + id + " not found", ENOENT);
  return it->second;
}

Status Sandbox::removeContainer(const std::string& id, unsigned timeoutSec) {
  KATA_ASSIGN_OR_RETURN(auto c, container(id));
  // Removing the cgroup signals its OOM eventfd: stop watching first.
  oom_.unwatch(id);
  Status s = c->remove(timeoutSec);
  // Once its processes are gone the container is forgotten even if some cleanup step failed
  // (that error is still reported); after a timeout it stays so the call can be retried.
  if (c->state() == ContainerState::Stopped) {
    std::lock_guard<std::mutex> lock(mu_);
    containers_.erase(id);
  }
  return s;
}

std::vector<std::string> Sandbox::unpinnedCgroupPaths() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [id, c] : containers_) {
    if (auto path = c->unpinnedCgroupPath()) out.push_back(*path);
  }
  return out;
}

std::vector<std::string> Sandbox::containerIds() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> ids;
  for (const auto& [id, c] : containers_) ids.push_back(id);
  return ids;
}

}  // namespace kata::agent
