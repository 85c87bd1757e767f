// kata-proxy's command line, parsed as upstream's Go flag package does: "-name value",
// "-name=value", "--name value"; booleans as "-debug" or "-debug=true".
#pragma once

#include <string>
#include <vector>

#include "lib/log.h"
#include "lib/result.h"

namespace kata::proxy {

struct Options {
  std::string listenSocket;                // path from -listen-socket unix://<path>
  std::string muxSocket;                   // -mux-socket: QEMU's agent channel socket
  std::string sandbox;                     // -sandbox: sandbox id, a field of every log line
  std::string agentLogsSocket;             // -agent-logs-socket: QEMU's guest console socket
  std::string consoleLog;                  // $KATA_PROXY_CONSOLE_LOG: the console's copy
  std::string virtiofsdLog;                // $KATA_PROXY_VIRTIOFSD_LOG (bytes on fd 3)
  std::string dnsNetns;                    // -dns-netns: where the guest's DNS is relayed
  std::string forwardNetns;                // -forward-netns: CRI port-forward's (port_forwarder.h)
  log::Level logLevel = log::Level::Warn;  // -log (upstream default: warn)
  bool debug = false;                      // -debug: same as -log debug
  bool version = false;                    // -version: print the version and exit
  // Not flags: set by a process that runs the proxy in a thread of its own (the shim v2).
  bool handleSignals = true;  // SIGTERM/SIGINT end the proxy
  int virtiofsdLogFd = 3;     // virtiofsd's stderr (kVirtiofsdLogFd), read when virtiofsdLog is set
};

/// Parses argv[1..]. Errors name the offending flag in one line.
Result<Options> parseOptions(const std::vector<std::string>& args);

/// "kata-proxy version 1.12.0 (commit abc)".
std::string versionLine();

}  // namespace kata::proxy
