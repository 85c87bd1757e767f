#include "agent/agent.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "agent/channel.h"
#include "agent/init.h"
#include "agent/initramfs.h"
#include "agent/modules.h"
#include "agent/reaper.h"
#include "agent/sandbox.h"
#include "agent/server.h"
#include "lib/dns_message.h"
#include "lib/fs_util.h"
#include "lib/log.h"
#include "lib/unique_fd.h"
#include "lib/version.h"

namespace kata::agent {

namespace {

[[noreturn]] void fatal(bool isInit, const std::string& reason) {
  log::error("fatal: " + reason);
  if (isInit) init::powerOff(reason);
  ::_exit(1);
}

// Logs (at debug level) how long each start-up step took: boot time under emulation is
// dominated by the agent's first steps, and this is how they are told apart.
class StartupClock {
 public:
  void step(const char* what) {
    const double now = uptime();
    log::debug("start-up step done", {{"step", what},
                                      {"ms", std::to_string((now - last_) * 1000)},
                                      {"uptime", std::to_string(now)}});
    last_ = now;
  }

 private:
  // CLOCK_BOOTTIME lines up with the kernel's printk timestamps on the same console.
  static double uptime() {
    timespec t{};
    ::clock_gettime(CLOCK_BOOTTIME, &t);
    return double(t.tv_sec) + t.tv_nsec / 1e9;
  }
  double last_ = uptime();
};

}  // namespace

int runAgent(const AgentOptions& options) {
  StartupClock clock;
  blockAgentSignals();
  const bool isInit = ::getpid() == 1;

  // Containers need pivot_root, which the kernel's initial rootfs does not allow.
  Status leftInitramfs = isInit ? init::leaveInitramfs() : okStatus();
  Status baseMounts;
  if (isInit) baseMounts = init::mountBaseFilesystems();
  KernelParams kp;
  if (auto cmdline = readFile("/proc/cmdline", 1 << 16); cmdline.ok() && isInit) {
    kp = parseKernelCmdline(*cmdline);
  }

  log::Options lo;
  lo.name = "kata-agent";
  lo.source = "agent";
  lo.level = options.logLevelGiven ? options.logLevel
                                   : (kp.debugLog ? log::Level::Debug : log::Level::Info);
  lo.fd = 2;  // the console: the proxy relays it to the host log
  (void)log::init(lo);
  log::info("agent started", {{"version", kata::kVersion},
                              {"commit", kata::kCommit},
                              {"init", isInit ? "true" : "false"}});
  if (!leftInitramfs.ok()) fatal(isInit, leftInitramfs.error().str());
  if (!baseMounts.ok()) fatal(isInit, baseMounts.error().str());
  clock.step("base mounts");

  if (isInit) {
    auto loaded = loadModules(options.modulesList);
    if (!loaded.ok()) {
      log::warn("kernel modules not loaded", {{"error", loaded.error().str()}});
    } else {
      log::info("kernel modules loaded", {{"count", std::to_string(*loaded)}});
    }
    clock.step("modules");
    if (auto s = init::mountCgroupHierarchies(); !s.ok()) {
      log::warn("cgroups not mounted", {{"error", s.error().str()}});
    }
    clock.step("cgroups");
    if (auto s = init::setupLoopback(); !s.ok()) {
      log::warn("loopback not up", {{"error", s.error().str()}});
    }
    clock.step("loopback");
  } else if (::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
    // Container processes are grandchildren: they must come back to us when they are orphaned.
    fatal(false, sysError("become child subreaper").str());
  }

  Reaper reaper;
  if (auto s = reaper.start(); !s.ok()) fatal(isInit, s.error().str());
  clock.step("reaper");

  UniqueFd powerOffRequest(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  Sandbox sandbox(reaper, isInit, isInit ? options.modulesList : "");
  GuestServiceOptions guest;
  guest.guestMode = isInit;
  if (!options.sysfsRoot.empty()) {
    guest.sysfsRoot = options.sysfsRoot;
    guest.sysfsRedirected = true;
  }
  if (!options.randomDevice.empty()) {
    guest.randomDevice = options.randomDevice;
    guest.randomRedirected = true;
  }
  if (!options.copyRoot.empty()) guest.copyRoot = options.copyRoot;
  AgentServer server(sandbox, std::move(guest), [&] {
    if (!isInit) return;
    uint64_t one = 1;
    (void)!::write(powerOffRequest.get(), &one, sizeof one);
  });
  std::vector<std::string> paths;
  for (const auto& l : options.listen) paths.push_back(*unixSocketPath(l));
  if (auto s = server.start(paths); !s.ok()) fatal(isInit, s.error().str());
  clock.step("grpc server");

  Channel channel([&server](int fd) { server.addConnection(fd); });
  bool serveChannel = options.channel == ChannelMode::Auto && (isInit || options.listen.empty());
  if (serveChannel) {
    ChannelOptions co;
    co.vsock = kp.useVsock && ::access("/dev/vsock", F_OK) == 0;
    // Only the VM's init: in host test mode 127.0.0.11 is the host's. Set before the channel
    // starts: requests arrive through it.
    if (isInit) {
      sandbox.onDockerDns([&channel] {
        if (auto s = channel.enableDnsRelay(dns::kDockerDnsAddress); !s.ok())
          log::warn("no DNS relay", {{"error", s.error().str()}});
      });
    }
    if (auto s = channel.start(co); !s.ok()) fatal(isInit, s.error().str());
    clock.step("channel");
  }
  if (isInit && kp.debugConsole) init::startDebugConsole(reaper);

  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, sig);
  UniqueFd sigFd(::signalfd(-1, &set, SFD_CLOEXEC));
  if (!sigFd) fatal(isInit, sysError("signalfd").str());
  for (;;) {
    pollfd fds[2] = {{sigFd.get(), POLLIN, 0}, {powerOffRequest.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents & POLLIN) {
      // Let the DestroySandbox reply reach the host before the VM goes away.
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      init::powerOff("sandbox destroyed");
    }
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo info{};
      if (::read(sigFd.get(), &info, sizeof info) != sizeof info) continue;
      if (isInit) {
        log::info("signal ignored by init", {{"signal", std::to_string(info.ssi_signo)}});
        continue;
      }
      log::info("shutting down", {{"signal", std::to_string(info.ssi_signo)}});
      break;
    }
  }
  channel.stop();
  server.shutdown();
  if (auto s = sandbox.destroy(); !s.ok()) log::warn("cleanup", {{"error", s.error().str()}});
  reaper.stop();
  return 0;
}

}  // namespace kata::agent
