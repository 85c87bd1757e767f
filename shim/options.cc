#include "shim/options.h"

#include <string_view>

#include "lib/parse.h"

namespace kata::shim {
namespace {

struct FlagSpec {
  std::string_view name;
  bool isBool;
  std::string_view help;
};

constexpr FlagSpec kFlags[] = {
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

const FlagSpec* findFlag(std::string_view name) {
  for (const auto& f : kFlags) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

}  // namespace

std::string usage() {
  std::string out = "Usage of kata-shim:\n";
  for (const auto& f : kFlags) {
    out += "  -";
    out += f.name;
    if (!f.isBool) out += " value";
    out += "\n    \t";
    out += f.help;
    out += '\n';
  }
  return out;
}

Result<Invocation> parseArgs(const std::vector<std::string>& args) {
  Invocation inv;
  Options& o = inv.options;
  std::string agentText;
  std::string logText;
  bool logGiven = false;
  bool version = false;

  size_t i = 0;
  for (; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg.size() < 2 || arg[0] != '-') break;  // first non-flag ends the flags, as in Go
    if (arg == "--") {
      ++i;
      break;
    }
    std::string_view body = arg.substr(arg[1] == '-' ? 2 : 1);
    if (body.empty() || body[0] == '-' || body[0] == '=') {
      return makeError("bad flag syntax: " + std::string(arg));
    }
    std::string_view name = body;
    std::string_view value;
    bool hasValue = false;
    if (size_t eq = body.find('='); eq != std::string_view::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
      hasValue = true;
    }
    const FlagSpec* spec = findFlag(name);
    if (spec == nullptr) {
      if (name == "help" || name == "h") {
        inv.action = Action::Help;
        return inv;
      }
      return makeError("flag provided but not defined: -" + std::string(name));
    }
    if (spec->isBool) {
      bool b = true;
      if (hasValue) {
        KATA_ASSIGN_OR_RETURN(b, parseBool(value, "-" + std::string(name)));
      }
      if (name == "terminal") o.terminal = b;
      if (name == "trace") o.trace = b;
      if (name == "proxy-exit-code") o.proxyExitCode = b;
      if (name == "debug") o.debug = b;
      if (name == "oom-relay") o.oomRelay = b;
      if (name == "version") version = b;
      continue;
    }
    if (!hasValue) {
      if (i + 1 >= args.size()) {
        return makeError("flag needs an argument: -" + std::string(name));
      }
      value = args[++i];
    }
    if (name == "agent") agentText = value;
    if (name == "container") o.container = value;
    if (name == "exec-id") o.execId = value;
    if (name == "agent-logs-socket") o.agentLogsSocket = value;
    if (name == "watch-pidfd") {
      const std::string v(value);
      auto eq = v.find('=');
      auto fd = parseInt<int>(v.substr(0, eq), "-watch-pidfd");
      if (eq == std::string::npos || eq + 1 == v.size() || !fd.ok() || *fd < 3)
        return makeError("invalid -watch-pidfd \"" + v + "\" (want FD=NAME, FD above 2)");
      o.watchPidfds.emplace_back(*fd, v.substr(eq + 1));
    }
    if (name == "log") {
      logText = value;
      logGiven = true;
    }
  }
  if (i < args.size()) {
    return makeError("unexpected argument \"" + args[i] + "\"");
  }
  if (version) {
    inv.action = Action::Version;
    return inv;
  }

  if (agentText.empty()) return makeError("missing -agent <URL>");
  KATA_ASSIGN_OR_RETURN(o.agent, parseAgentUrl(agentText));
  if (o.container.empty()) return makeError("missing -container <id>");
  if (o.execId.empty()) return makeError("missing -exec-id <id>");
  if (logGiven) {
    auto level = log::parseLevel(logText);
    if (!level) return makeError("invalid -log level \"" + logText + "\"");
    o.logLevel = *level;
  }
  if (o.debug) o.logLevel = log::Level::Debug;
  return inv;
}

}  // namespace kata::shim
