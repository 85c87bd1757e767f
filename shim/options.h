// kata-shim's command line, parsed the way Go's flag package (which upstream kata-shim uses)
// does: one or two leading dashes, "-flag value" or "-flag=value", boolean flags take no
// separate value ("-terminal", "-terminal=false"), parsing stops at "--" or the first non-flag.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "lib/log.h"
#include "lib/result.h"
#include "shim/agent_url.h"

namespace kata::shim {

struct Options {
  AgentUrl agent;                          // -agent
  std::string container;                   // -container
  std::string execId;                      // -exec-id (the container id for the init process)
  bool terminal = false;                   // -terminal
  log::Level logLevel = log::Level::Warn;  // -log
  std::string agentLogsSocket;  // -agent-logs-socket (accepted; the proxy forwards agent logs)
  bool trace = false;           // -trace (accepted; tracing is not implemented)
  bool proxyExitCode = true;    // -proxy-exit-code: exit with the process's status, else 0
  bool debug = false;           // -debug: same as -log debug
  /// -watch-pidfd FD=NAME (repeatable): an inherited pidfd of a process the agent needs
  /// (kata-runtime passes QEMU's and kata-proxy's); the shim gives up when it exits.
  std::vector<std::pair<int, std::string>> watchPidfds;
  bool oomRelay = false;        // -oom-relay: relay the container's guest OOMs (oom_relay.h)
};

enum class Action { Run, Help, Version };

struct Invocation {
  Action action = Action::Run;
  Options options;  // filled and validated when action == Run
};

/// Parses argv without argv[0]. Unknown flags, missing values, bad booleans, stray arguments,
/// missing -agent/-container/-exec-id and malformed URLs are errors naming the culprit.
Result<Invocation> parseArgs(const std::vector<std::string>& args);

/// The -help text.
std::string usage();

}  // namespace kata::shim
