#include "shim/options.h"

#include "lib/go_flags.h"
#include "lib/parse.h"

namespace kata::shim {
namespace {

constexpr GoFlag kFlags[] = {
    {"agent", false, "agent gRPC URL: unix:///path/proxy.sock or vsock://<cid>:<port>"},
    {"container", false, "container id"},
    {"exec-id", false, "process id (the container id for the container's init process)"},
    {"terminal", true, "the process has a terminal: set stdin raw, forward window size"},
    {"log", false, "log level: debug, info, warn, error, fatal, panic (default \"warn\")"},
    {"agent-logs-socket", false, "socket of the agent's console logs (accepted, unused)"},
    {"trace", true, "enable tracing (accepted, not implemented)"},
    {"proxy-exit-code", true, "exit with the process's exit code (default true)"},
    {"debug", true, "log at debug level"},
    {"watch-pidfd", false, "FD=NAME: give up when the process of this inherited pidfd exits"},
    {"oom-relay", true, "relay the container's OOM kills in the guest to this host memory cgroup"},
    {"version", true, "print the version and exit"},
};

}  // namespace

std::string usage() { return goFlagsUsage("kata-shim", kFlags); }

Result<Invocation> parseArgs(const std::vector<std::string>& args) {
  Invocation inv;
  KATA_ASSIGN_OR_RETURN(GoFlagArgs parsed, parseGoFlags(args, kFlags));
  if (parsed.help) {
    inv.action = Action::Help;
    return inv;
  }
  if (!parsed.positional.empty()) {
    return makeError("unexpected argument \"" + parsed.positional[0] + "\"");
  }
  if (parsed.flag("version")) {
    inv.action = Action::Version;
    return inv;
  }

  Options& o = inv.options;
  o.terminal = parsed.flag("terminal");
  o.trace = parsed.flag("trace");
  o.proxyExitCode = parsed.get("proxy-exit-code", "true") == "true";
  o.debug = parsed.flag("debug");
  o.oomRelay = parsed.flag("oom-relay");
  o.container = parsed.get("container");
  o.execId = parsed.get("exec-id");
  o.agentLogsSocket = parsed.get("agent-logs-socket");
  for (const auto& [name, v] : parsed.flags) {
    if (name != "watch-pidfd") continue;
    auto eq = v.find('=');
    auto fd = parseInt<int>(v.substr(0, eq), "-watch-pidfd");
    if (eq == std::string::npos || eq + 1 == v.size() || !fd.ok() || *fd < 3)
      return makeError("invalid -watch-pidfd \"" + v + "\" (want FD=NAME, FD above 2)");
    o.watchPidfds.emplace_back(*fd, v.substr(eq + 1));
  }

  const std::string agentText = parsed.get("agent");
  if (agentText.empty()) return makeError("missing -agent <URL>");
  KATA_ASSIGN_OR_RETURN(o.agent, parseAgentUrl(agentText));
  if (o.container.empty()) return makeError("missing -container <id>");
  if (o.execId.empty()) return makeError("missing -exec-id <id>");
  if (parsed.has("log")) {
    const std::string logText = parsed.get("log");
    auto level = log::parseLevel(logText);
    if (!level) return makeError("invalid -log level \"" + logText + "\"");
    o.logLevel = *level;
  }
  if (o.debug) o.logLevel = log::Level::Debug;
  return inv;
}

}  // namespace kata::shim
