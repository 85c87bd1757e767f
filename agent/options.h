// Command line of kata-agent and the agent.* options it reads from the kernel command line.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "lib/log.h"
#include "lib/result.h"

namespace kata::agent {

/// How the agent finds its host connection besides --listen.
enum class ChannelMode { Auto, None };

struct AgentOptions {
  /// "unix:///path/agent.sock" style addresses to serve gRPC on (host test mode).
  std::vector<std::string> listen;
  log::Level logLevel = log::Level::Info;
  bool logLevelGiven = false;
  ChannelMode channel = ChannelMode::Auto;
  std::string modulesList = "/lib/modules/kata-modules.list";
  bool showVersion = false;
  // Redirections for host tests of the guest-only RPCs ("" = the real /sys, /dev/random and
  // /run/kata-containers/shared/containers).
  std::string sysfsRoot;     // --sysfs-root: OnlineCPUMem, MemHotplugByProbe, GetGuestDetails
  std::string randomDevice;  // --random-device: ReseedRandomDev
  std::string copyRoot;      // --copy-root: CopyFile
};

/// Parses `kata-agent [--listen unix:///p] [--log-level L] [--channel auto|none]
/// [--modules-list /p] [--sysfs-root /d] [--random-device /p] [--copy-root /d] [--version]`.
/// Both "--opt value" and "--opt=value" are accepted; paths must be absolute.
Result<AgentOptions> parseArgs(const std::vector<std::string>& args);

/// The agent.* options of /proc/cmdline.
struct KernelParams {
  bool debugLog = false;      // agent.log=debug
  bool debugConsole = false;  // agent.debug_console
  bool useVsock = true;       // agent.use_vsock=false turns the vsock listener off
};

/// Parses a kernel command line (unknown words are ignored).
KernelParams parseKernelCmdline(std::string_view cmdline);

/// The filesystem path of a "unix:///path" or "unix:/path" address; error for other schemes.
Result<std::string> unixSocketPath(std::string_view address);

}  // namespace kata::agent
