// The QEMU hypervisor: turns a resolved VM configuration into QEMU's command line, starts QEMU
// daemonised with a pid file, and stops it (QMP quit, then SIGKILL).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "lib/result.h"
#include "lib/unique_fd.h"
#include "runtime/virtcontainers/process_ref.h"

namespace kata::vc {

/// What one VM needs, resolved from configuration.toml and the host.
struct VmConfig {
  std::string qemuPath = "/usr/bin/qemu-system-x86_64";
  std::string kernelPath;
  std::string initrdPath;  // initrd or image, not both
  std::string imagePath;
  std::string machineType = "pc";
  std::string machineAccelerators;  // extra -machine options, comma separated
  std::string accelerator = "tcg";  // "kvm" or "tcg" (already resolved)
  std::string cpuFeatures;          // appended to -cpu
  int vcpus = 1;
  int maxVcpus = 1;
  int memoryMiB = 512;
  int memorySlots = 10;
  int maxMemoryMiB = 0;                // 0: no memory hotplug headroom
  std::string kernelParams;            // from the configuration, appended after ours
  std::string guestConsole = "ttyS0";  // "ttyS0" (isa serial) or "hvc0" (virtconsole)
  std::string sharedFs = "virtio-9p";  // or "virtio-fs" (virtiofsd serves the shared dir)
  int msize9p = 8192;
  std::string virtiofsDaemon = "/usr/lib/qemu/virtiofsd";
  std::string virtiofsCache = "auto";  // virtiofsd's -o cache=
  std::vector<std::string> virtiofsExtraArgs;
  int virtiofsCacheSizeMiB = 0;  // DAX window; needs a QEMU whose vhost-user-fs has cache-size
  // `image` as read-only persistent memory with DAX (an nvdimm with ACPI, virtio-pmem
  // without), else a virtio-blk disk.
  bool imageOnPmem = true;
  bool acpi = false;     // ACPI tables for the guest (-machine acpi=off otherwise)
  long guestTscKhz = 0;  // tsc_early_khz= for the guest: TCG without ACPI (0: not passed)
  // One virtio-net NIC per tap, with these MACs; startQemu hands the taps' fds to QEMU as
  // fds 3, 4, ... (kFirstTapFd + i).
  std::vector<std::string> nicMacs;
  std::string entropySource = "/dev/urandom";
  std::string firmware;
  bool debug = false;
  bool memPrealloc = false;
  bool hugepages = false;
  std::string memFile;   // file_mem_backend: guest RAM in this file (or a new one in this dir)
  int tcgCacheMiB = 32;  // bounds QEMU's translation cache under TCG (default would be 1 GiB)
};

/// Where one VM's sockets and files live (all under /run/vc/vm/<sandbox>/).
struct VmPaths {
  std::string dir;
  std::string qmpSocket() const { return dir + "/qmp.sock"; }
  std::string consoleSocket() const { return dir + "/console.sock"; }
  std::string consoleLog() const { return dir + "/console.log"; }  // written by kata-proxy
  std::string proxyLog() const { return dir + "/proxy.log"; }      // kata-proxy's stderr
  std::string agentSocket() const { return dir + "/kata.sock"; }   // the agent.channel.0 port
  std::string pidFile() const { return dir + "/pid"; }
  std::string qemuLog() const { return dir + "/qemu.log"; }
  std::string virtiofsSocket() const { return dir + "/vhost-fs.sock"; }
  std::string virtiofsdLog() const { return dir + "/virtiofsd.log"; }
};

inline constexpr const char* kAgentPortName = "agent.channel.0";
inline constexpr const char* kShareMountTag = "kataShared";
inline constexpr int kFirstTapFd = 3;
/// Environment variable naming the file where kata-proxy writes the guest console (our
/// addition: upstream's proxy only relays the console to its log, and ignores it).
inline constexpr const char* kProxyConsoleLogEnv = "KATA_PROXY_CONSOLE_LOG";
/// Environment variable naming the file where kata-proxy writes virtiofsd's stderr, which it
/// gets as fd kProxyVirtiofsdLogFd (our addition too; upstream's proxy ignores both).
inline constexpr const char* kProxyVirtiofsdLogEnv = "KATA_PROXY_VIRTIOFSD_LOG";
inline constexpr int kProxyVirtiofsdLogFd = 3;

/// The guest kernel command line: upstream Kata's defaults, ours, then the configured extras.
std::string kernelCommandLine(const VmConfig& config);

/// QEMU's full argv (argv[0] = qemuPath) for sandbox `id` sharing `sharedDir` with the guest.
std::vector<std::string> qemuArgv(const std::string& id, const VmConfig& config,
                                  const VmPaths& paths, const std::string& sharedDir);

/// Starts QEMU daemonised; returns its pid once QEMU has set up every device (QEMU's parent
/// exits after initialisation). `tapFds` are the taps of config.nicMacs, in order. On failure
/// the error carries the tail of QEMU's stderr.
Result<pid_t> startQemu(const std::string& id, const VmConfig& config, const VmPaths& paths,
                        const std::string& sharedDir, const std::vector<int>& tapFds = {});

/// Once the guest runs: pages out QEMU's mappings of the kernel file (QEMU keeps an ELF kernel
/// mapped only to reload it on a reset), of the nvdimm root image `image` (the pages the boot
/// read; the guest maps them back on its next touch) and of QEMU's binary (machine set-up code),
/// keeping them in the host's page cache; pages other processes map stay. Host memory
/// attributed to an idle VM drops by the kernel's loaded size, the image's boot set and QEMU's
/// start-up code. Takes about 25 ms. Best effort: a host without process_madvise (Linux < 5.10)
/// keeps the pages mapped.
void releaseBootFilePages(const ProcessRef& qemu, const std::string& kernel,
                          const std::string& image);

struct Virtiofsd {
  pid_t pid = -1;
  /// Read end of virtiofsd's stderr, a pipe (both ends non-blocking: a full pipe drops
  /// virtiofsd's lines instead of stalling it). The guest can make virtiofsd log a line per
  /// request, so no file takes them directly: kata-proxy keeps virtiofsd.log, capped.
  UniqueFd log;
};

/// shared_fs = "virtio-fs": starts virtiofsd (detached, in its own session) serving `sharedDir`
/// on a listening socket the runtime creates at paths.virtiofsSocket() and hands over as fd 3,
/// so QEMU can connect as soon as this returns. virtiofsd exits when QEMU disconnects.
Result<Virtiofsd> startVirtiofsd(const VmConfig& config, const VmPaths& paths,
                                 const std::string& sharedDir);

/// Stops QEMU: QMP quit, then SIGKILL if it is still alive after `graceMs`. A QEMU that is
/// already gone is success.
Status stopQemu(const ProcessRef& qemu, const VmPaths& paths, int graceMs = 3000);

/// The QEMU of sandbox `id` named by its pid file, for a QEMU whose starter was killed before
/// it recorded it: only a process whose command line names the sandbox (-name sandbox-<id>,...)
/// counts. A ref with pid 0 when there is none.
ProcessRef qemuOfPidFile(const std::string& id, const VmPaths& paths);

/// The last `maxLines` lines of a text file (console log, QEMU log), for error messages.
std::string tailOfFile(const std::string& path, size_t maxLines);
/// The last `maxLines` lines of what a non-blocking pipe holds now (at most 64 KiB are read).
std::string tailOfPipe(int fd, size_t maxLines);

}  // namespace kata::vc
