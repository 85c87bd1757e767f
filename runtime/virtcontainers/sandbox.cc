#include "runtime/virtcontainers/sandbox.h"

#include <fcntl.h>
#include <unistd.h>

#include <sstream>

#include "lib/child_process.h"
#include "lib/crash_point.h"
#include "lib/fs_util.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "runtime/virtcontainers/accelerator.h"
#include "runtime/virtcontainers/host_cgroup.h"
#include "runtime/virtcontainers/network.h"
#include "runtime/virtcontainers/rollback.h"
#include "runtime/virtcontainers/shared_dir.h"

namespace kata::vc {
namespace {

constexpr int kDestroyRpcTimeoutMs = 5000;

// `virtiofsdLog`: the read end of virtiofsd's stderr, or -1.
Result<ProcessRef> startProxy(const config::Config& config, const AgentRelayRequest& r) {
  SpawnOptions opts;
  opts.argv = {config.proxy.path, "-listen-socket",     "unix://" + r.listenSocket,
               "-mux-socket",     r.muxSocket,          "-sandbox",
               r.sandboxId,       "-agent-logs-socket", r.consoleSocket};
  if (!r.netns.empty()) {
    // The proxy relays the guest's DNS queries to Docker's server in the sandbox's namespace.
    opts.argv.push_back("-dns-netns");
    opts.argv.push_back(r.netns);
    // CRI port-forward dials 127.0.0.1 there: the proxy carries it into the guest.
    opts.argv.push_back("-forward-netns");
    opts.argv.push_back(r.netns);
  }
  if (r.debug) {
    opts.argv.push_back("-log");
    opts.argv.push_back("debug");
  }
  // These files get guest text (or text the guest can make virtiofsd print): kata-proxy
  // writes them and keeps each under kGuestLogMaxBytes.
  std::vector<std::string> env = {std::string(kProxyConsoleLogEnv) + "=" + r.consoleLog};
  if (r.virtiofsdLogFd >= 0) {
    env.push_back(std::string(kProxyVirtiofsdLogEnv) + "=" + r.virtiofsdLog);
    opts.extraFds.push_back({r.virtiofsdLogFd, kProxyVirtiofsdLogFd});
  }
  opts.env = environWith(env);
  const std::string logPath = VmPaths{StorePaths::vmDir(r.sandboxId)}.proxyLog();
  UniqueFd log(open(logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!log) return sysError("create " + logPath);
  opts.stderrFd = log.get();
  opts.setsid = true;
  KATA_ASSIGN_OR_RETURN(pid_t pid, ChildProcess::spawnDetached(opts));
  // Gone already: waiting for the agent below says why, from the proxy's log.
  auto ref = ProcessRef::of(pid);
  return ref.ok() ? *ref : ProcessRef{};
}

// Console text for a one-line error: lines joined with " | ", terminal escape sequences and
// other control bytes dropped (the guest and its firmware print them).
std::string oneLine(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == 0x1b) {  // ESC [ ... final byte
      if (i + 1 < s.size() && s[i + 1] == '[') {
        i += 2;
        while (i < s.size() && !(s[i] >= '@' && s[i] <= '~')) i++;
      }
      continue;
    }
    if (c == '\n') {
      out += " | ";
    } else if (c >= 0x20 && c != 0x7f) {
      out += char(c);
    }
  }
  return out;
}

// The guest's NICs get the names, MTUs and addresses of the netns interfaces they mirror
// (the agent finds each by MAC), then the routes.
Status configureGuestNetwork(AgentClient& agent, const net::SandboxNetwork& network) {
  for (const auto& e : network.endpoints) {
    ::grpc::UpdateInterfaceRequest req;
    auto* i = req.mutable_interface();
    i->set_device(e.name);
    i->set_name(e.name);
    i->set_hwaddr(e.mac);
    i->set_mtu(uint64_t(e.mtu));
    for (const auto& a : e.addresses) {
      auto* ip = i->add_ipaddresses();
      ip->set_family(a.v6 ? ::types::v6 : ::types::v4);
      ip->set_address(a.ip);
      ip->set_mask(std::to_string(a.prefix));
    }
    auto r = agent.call("UpdateInterface", &::grpc::AgentService::Stub::UpdateInterface, req);
    if (!r.ok()) return std::move(r).error();
  }
  if (network.routes.empty()) return okStatus();
  ::grpc::UpdateRoutesRequest req;
  for (const auto& route : network.routes) {
    auto* r = req.mutable_routes()->add_routes();
    r->set_dest(route.dest);
    r->set_gateway(route.gateway);
    r->set_device(route.device);
    r->set_source(route.source);
    r->set_scope(uint32_t(route.scope));
  }
  auto r = agent.call("UpdateRoutes", &::grpc::AgentService::Stub::UpdateRoutes, req);
  if (!r.ok()) return std::move(r).error();
  return okStatus();
}

// CPUs in a cpuset list ("0-3,6"); 0 when it does not parse (the guest's agent reports it).
int cpusetCount(const std::string& list) {
  int n = 0;
  std::istringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty()) continue;
    size_t dash = item.find('-');
    auto lo = parseInt<int>(item.substr(0, dash), "cpuset");
    auto hi = dash == std::string::npos ? lo : parseInt<int>(item.substr(dash + 1), "cpuset");
    if (!lo.ok() || !hi.ok() || *hi < *lo) return 0;
    n += *hi - *lo + 1;
  }
  return n;
}

}  // namespace

void sizeVm(VmConfig& vm, const oci::Resources& r) {
  if (r.memory && r.memory->limit.value_or(0) > 0)
    vm.memoryMiB += int((*r.memory->limit + (1 << 20) - 1) >> 20);
  if (!r.cpu) return;
  int n = 0;
  const auto& c = *r.cpu;
  if (c.quota.value_or(0) > 0 && c.period.value_or(0) > 0)
    n = int((uint64_t(*c.quota) + *c.period - 1) / *c.period);
  if (int set = c.cpus.empty() ? 0 : cpusetCount(c.cpus); set > 0)
    n = n > 0 ? std::min(n, set) : set;
  if (n > 0) vm.vcpus = std::min(n, std::max(vm.maxVcpus, 1));
}

Result<VmConfig> vmConfigFrom(const config::Config& config) {
  const config::QemuConfig& q = config.qemu;
  VmConfig vm;
  vm.qemuPath = q.path;
  vm.kernelPath = q.kernel;
  vm.initrdPath = q.initrd;
  vm.imagePath = q.image;
  vm.machineType = q.machine_type;
  vm.machineAccelerators = q.machine_accelerators;
  vm.cpuFeatures = q.cpu_features;
  vm.vcpus = q.default_vcpus;
  int hostCpus = int(sysconf(_SC_NPROCESSORS_ONLN));
  vm.maxVcpus = q.default_maxvcpus > 0 ? std::min(q.default_maxvcpus, hostCpus) : hostCpus;
  if (vm.maxVcpus < vm.vcpus) vm.maxVcpus = vm.vcpus;
  vm.memoryMiB = q.default_memory;
  vm.memorySlots = q.memory_slots;
  vm.maxMemoryMiB = 0;  // memory hotplug is not offered yet: no maxmem headroom
  vm.kernelParams = q.kernel_params;
  vm.guestConsole = q.guest_console;
  vm.tcgCacheMiB = q.tcg_cache_size;
  vm.sharedFs = q.shared_fs;
  vm.msize9p = int(q.msize_9p);
  vm.imageOnPmem = !q.disable_image_nvdimm;
  vm.acpi = q.enable_acpi;
  vm.entropySource = q.entropy_source;
  vm.firmware = q.firmware;
  vm.debug = q.enable_debug || config.agent.enable_debug;
  vm.memPrealloc = q.enable_mem_prealloc;
  vm.hugepages = q.enable_hugepages;
  vm.memFile = q.file_mem_backend;
  if (config.agent.debug_console_enabled) vm.kernelParams += " agent.debug_console";
  vm.virtiofsDaemon = q.virtio_fs_daemon;
  vm.virtiofsCache = q.virtio_fs_cache;
  vm.virtiofsExtraArgs = q.virtio_fs_extra_args;
  vm.virtiofsCacheSizeMiB = q.virtio_fs_cache_size;
  if (vm.sharedFs == "virtio-fs" && access(vm.virtiofsDaemon.c_str(), X_OK) != 0)
    return sysError("hypervisor.qemu.virtio_fs_daemon " + vm.virtiofsDaemon);
  if (vm.initrdPath.empty() == vm.imagePath.empty())
    return makeError("configuration must set exactly one of hypervisor.qemu.initrd and image",
                     EINVAL);
  for (const std::string* f :
       {&vm.qemuPath, &vm.kernelPath, vm.initrdPath.empty() ? &vm.imagePath : &vm.initrdPath}) {
    if (access(f->c_str(), R_OK) != 0) return sysError("VM asset " + *f);
  }
  KATA_ASSIGN_OR_RETURN(vm.accelerator, chooseAccelerator(q.accelerator, probeAccelerator()));
  // KVM gives the guest kvm-clock; with ACPI it calibrates its TSC against the HPET.
  if (vm.accelerator == "tcg" && !vm.acpi) vm.guestTscKhz = measureHostTscKhz();
  return vm;
}

::grpc::CreateSandboxRequest createSandboxRequest(const config::Config& config, const VmConfig& vm,
                                                  const SandboxSpec& spec) {
  ::grpc::CreateSandboxRequest req;
  req.set_hostname(spec.hostname);
  for (const auto& d : spec.dns) req.add_dns(d);
  req.set_sandbox_id(spec.id);
  req.set_sandbox_pidns(spec.sharedPidNamespace);
  auto* storage = req.add_storages();
  storage->set_source(kShareMountTag);
  // The trailing '/' matters: upstream's agent creates the part before the last '/' and mounts
  // there, so without it the mount point itself is never created (ENOENT).
  storage->set_mount_point(std::string(shared::kGuestSharedDir) + "/");
  if (vm.sharedFs == "virtio-fs") {
    storage->set_driver("virtio-fs");
    storage->set_fstype("virtiofs");
  } else {
    storage->set_driver("9p");
    storage->set_fstype("9p");
    // Upstream's options, item for item: file system data in one item, then flag words.
    storage->add_options("trans=virtio,version=9p2000.L,cache=mmap");
    storage->add_options("nodev");
    storage->add_options("msize=" + std::to_string(vm.msize9p));
  }
  for (const auto& m : config.agent.kernel_modules) {
    // "name param=value ...": each word after the name is one parameter, as upstream splits it.
    std::istringstream words(m);
    std::string word;
    if (!(words >> word)) continue;
    auto* km = req.add_kernel_modules();
    km->set_name(word);
    while (words >> word) km->add_parameters(word);
  }
  return req;
}

Result<AgentClient> agentOf(const SandboxState& sandbox) {
  return AgentClient::create(sandbox.agentUrl);
}

bool sandboxAlive(const SandboxState& sandbox) { return sandbox.qemu.alive(); }

Result<SandboxState> createSandbox(const config::Config& config, const SandboxSpec& spec) {
  KATA_ASSIGN_OR_RETURN(VmConfig vm, vmConfigFrom(config));
  if (spec.resources) sizeVm(vm, *spec.resources);
  const std::string sid = spec.id;
  const std::string sbsDir = StorePaths::sandboxDir(sid);
  VmPaths paths{StorePaths::vmDir(sid)};
  if (access(sbsDir.c_str(), F_OK) == 0)
    return makeError("sandbox " + sid + " already exists", EEXIST);

  Rollback undo;
  undo.add([sbsDir] { (void)removeAll(sbsDir); });
  KATA_TRY(mkdirAll(sbsDir, 0700));
  undo.add([dir = paths.dir] { (void)removeAll(dir); });
  KATA_TRY(mkdirAll(paths.dir, 0700));
  undo.add([sid] { (void)shared::teardown(sid); });
  KATA_TRY_CTX(shared::setup(sid), "shared directory");
  crashPoint("create:shared-dir");

  SandboxState s;
  s.id = sid;
  s.accelerator = vm.accelerator;
  s.configPath = config.path;
  s.agentUrl = "unix://" + StorePaths::proxySocket(sid);
  s.created = log::timestamp();
  s.vcpus = vm.vcpus;
  s.memoryMiB = vm.memoryMiB;

  if (!spec.hostCgroup.empty()) {
    // Everything this command starts from here on (virtiofsd, QEMU, kata-proxy, the first
    // shim) inherits the cgroup.
    KATA_ASSIGN_OR_RETURN(CgroupHierarchies h, cgroupHierarchies());
    s.hostCgroup = spec.hostCgroup;
    undo.add([h, path = spec.hostCgroup] { (void)removeHostCgroup(h, path); });
    KATA_TRY(saveSandbox(s));
    KATA_TRY(createHostCgroup(h, spec.hostCgroup, spec.resources ? &*spec.resources : nullptr));
  }

  UniqueFd virtiofsdLog;
  if (vm.sharedFs == "virtio-fs") {
    KATA_ASSIGN_OR_RETURN(Virtiofsd fs, startVirtiofsd(vm, paths, shared::exportDir(sid)));
    if (auto ref = ProcessRef::of(fs.pid); ref.ok()) s.virtiofsd = *ref;
    virtiofsdLog = std::move(fs.log);
    undo.add([p = s.virtiofsd] { (void)p.terminate(1000); });
    // Every process and network change is recorded as soon as it exists, so that `delete
    // --force` finds it even when this command is killed right after.
    KATA_TRY(saveSandbox(s));
    crashPoint("create:virtiofsd");
  }

  std::string netns = spec.netns;
  if (netns.empty()) {
    netns = StorePaths::netnsFile(sid);
    undo.add([netns] { (void)net::removeNetns(netns); });
    KATA_TRY(net::createNetns(netns));
    s.netns = netns;
    KATA_TRY(saveSandbox(s));
    crashPoint("create:netns");
  }
  if (spec.beforeNetworkScan) KATA_TRY(spec.beforeNetworkScan(netns));

  std::vector<UniqueFd> taps;
  net::SandboxNetwork network;
  if (config.runtime.internetworking_model == "tcfilter") {
    KATA_ASSIGN_OR_RETURN(net::Attached attached, net::attach(netns));
    network = std::move(attached.network);
    taps = std::move(attached.taps);
    undo.add([netns, eps = network.endpoints] { (void)net::detach(netns, eps); });
    s.netns = netns;
    for (const auto& e : network.endpoints) {
      s.netInterfaces.push_back(e.name);
      s.netTaps.push_back(e.tap);
      vm.nicMacs.push_back(e.mac);
    }
    KATA_TRY(saveSandbox(s));
    crashPoint("create:network");
  }
  std::vector<int> tapFds;
  for (const auto& t : taps) tapFds.push_back(t.get());

  log::info("starting VM", {{"sandbox", sid}, {"accelerator", vm.accelerator}});
  auto started = startQemu(sid, vm, paths, shared::exportDir(sid), tapFds);
  taps.clear();  // QEMU holds them now; a tap disappears when QEMU exits
  // QEMU could not reach virtiofsd's socket: virtiofsd's own messages say why.
  if (!started.ok() && started.error().message.find(paths.virtiofsSocket()) != std::string::npos) {
    std::string fsLog = oneLine(tailOfPipe(virtiofsdLog.get(), 3));
    if (!fsLog.empty()) return makeError(started.error().message + "; virtiofsd: " + fsLog);
  }
  KATA_ASSIGN_OR_RETURN(pid_t qemuPid, std::move(started));
  auto qemuRef = ProcessRef::of(qemuPid);
  if (!qemuRef.ok())
    return makeError("QEMU exited right after starting: " +
                     oneLine(tailOfFile(paths.qemuLog(), 5)));
  s.qemu = *qemuRef;
  undo.add([q = s.qemu, paths] { (void)stopQemu(q, paths, 0); });
  KATA_TRY(saveSandbox(s));
  crashPoint("create:qemu");

  AgentRelayRequest relay;
  relay.sandboxId = sid;
  relay.listenSocket = StorePaths::proxySocket(sid);
  relay.muxSocket = paths.agentSocket();
  relay.consoleSocket = paths.consoleSocket();
  relay.consoleLog = paths.consoleLog();
  relay.netns = netns;
  relay.virtiofsdLogFd = virtiofsdLog ? virtiofsdLog.get() : -1;
  relay.virtiofsdLog = paths.virtiofsdLog();
  relay.debug = config.proxy.enable_debug;
  if (spec.startAgentRelay) {
    KATA_ASSIGN_OR_RETURN(s.proxy, spec.startAgentRelay(relay));
    s.agentRelayInProcess = s.proxy.pid == getpid();
  } else {
    KATA_ASSIGN_OR_RETURN(s.proxy, startProxy(config, relay));
  }
  if (!s.agentRelayInProcess) undo.add([p = s.proxy] { (void)p.terminate(1000); });
  KATA_TRY(saveSandbox(s));
  crashPoint("create:proxy");

  KATA_ASSIGN_OR_RETURN(AgentClient agent, AgentClient::create(s.agentUrl));
  auto ready = agent.waitReady(config.agent.dial_timeout * 1000);
  if (!ready.ok()) {
    std::string why = ready.error().message;
    if (!s.qemu.alive())
      why = "the VM exited";
    else if (!s.proxy.alive())
      why = "kata-proxy exited: " + oneLine(tailOfFile(paths.proxyLog(), 3));
    return makeError("sandbox " + sid + ": " + why +
                     "; guest console: " + oneLine(tailOfFile(paths.consoleLog(), 8)));
  }

  auto req = createSandboxRequest(config, vm, spec);
  auto created = agent.call("CreateSandbox", &::grpc::AgentService::Stub::CreateSandbox, req);
  if (!created.ok()) return std::move(created).error();
  crashPoint("create:sandbox");
  KATA_TRY_CTX(configureGuestNetwork(agent, network), "guest network");
  undo.commit();
  return s;
}

Status destroySandbox(const SandboxState& s) {
  Status first;
  auto keep = [&first](Status st) {
    if (!st.ok() && first.ok()) first = std::move(st);
  };
  VmPaths paths{StorePaths::vmDir(s.id)};
  if (s.qemu.alive() && s.proxy.alive()) {
    if (auto agent = agentOf(s); agent.ok()) {
      // Best effort: the guest powers itself off; QEMU is stopped below either way.
      (void)agent->call("DestroySandbox", &::grpc::AgentService::Stub::DestroySandbox,
                        ::grpc::DestroySandboxRequest(), kDestroyRpcTimeoutMs);
    }
  }
  // A QEMU that a killed create started but could not record is found by its pid file.
  keep(stopQemu(s.qemu.pid > 0 ? s.qemu : qemuOfPidFile(s.id, paths), paths, 2000));
  if (!s.netns.empty()) {
    std::vector<net::Endpoint> endpoints;
    for (size_t i = 0; i < s.netInterfaces.size() && i < s.netTaps.size(); ++i)
      endpoints.push_back({s.netInterfaces[i], "", 0, s.netTaps[i], {}});
    keep(net::detach(s.netns, endpoints));
  }
  // The namespace the sandbox made for itself (by name: also after a create killed before
  // it recorded it).
  keep(net::removeNetns(StorePaths::netnsFile(s.id)));
  crashPoint("delete:qemu");
  if (!s.agentRelayInProcess) keep(s.proxy.terminate(1000));
  keep(s.virtiofsd.terminate(1000));  // normally gone already: it exits when QEMU disconnects
  keep(shared::teardown(s.id));
  crashPoint("delete:shared-dir");
  if (!s.hostCgroup.empty()) {
    auto h = cgroupHierarchies();
    keep(h.ok() ? removeHostCgroup(*h, s.hostCgroup) : Status(std::move(h).error()));
  }
  keep(removeAll(paths.dir));
  keep(removeAll(StorePaths::sandboxDir(s.id)));
  return first;
}

}  // namespace kata::vc
