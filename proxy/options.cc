#include "proxy/options.h"

#include <string_view>

#include "lib/parse.h"
#include "lib/version.h"

namespace kata::proxy {
namespace {

constexpr std::string_view kUnixScheme = "unix://";

}  // namespace

Result<Options> parseOptions(const std::vector<std::string>& args) {
  Options o;
  std::string listenUri;
  for (size_t i = 0; i < args.size(); i++) {
    const std::string& arg = args[i];
    if (arg == "--") {
      if (i + 1 < args.size())
        return makeError("unexpected argument \"" + args[i + 1] + "\"", EINVAL);
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      return makeError("unexpected argument \"" + arg + "\"", EINVAL);
    }
    std::string name = arg.substr(arg[1] == '-' ? 2 : 1);
    std::string value;
    bool hasValue = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
      hasValue = true;
    }
    if (name == "debug" || name == "version") {
      bool b = true;
      if (hasValue) {
        KATA_ASSIGN_OR_RETURN(b, parseBool(value, "-" + name));
      }
      (name == "debug" ? o.debug : o.version) = b;
      continue;
    }
    std::string* target = nullptr;
    if (name == "listen-socket")
      target = &listenUri;
    else if (name == "mux-socket")
      target = &o.muxSocket;
    else if (name == "sandbox")
      target = &o.sandbox;
    else if (name == "agent-logs-socket")
      target = &o.agentLogsSocket;
    else if (name == "dns-netns")
      target = &o.dnsNetns;
    else if (name != "log")
      return makeError("flag provided but not defined: -" + name, EINVAL);
    if (!hasValue) {
      if (i + 1 >= args.size()) return makeError("flag needs an argument: -" + name, EINVAL);
      value = args[++i];
    }
    if (name == "log") {
      KATA_ASSIGN_OR_RETURN(o.logLevel, log::parseLevel(value));
    } else {
      *target = value;
    }
  }
  if (o.debug) o.logLevel = log::Level::Debug;
  if (o.version) return o;

  if (listenUri.empty()) return makeError("missing -listen-socket unix://<path>", EINVAL);
  if (listenUri.rfind(kUnixScheme, 0) != 0 || listenUri.size() == kUnixScheme.size()) {
    return makeError("invalid -listen-socket \"" + listenUri + "\": want unix://<path>", EINVAL);
  }
  o.listenSocket = listenUri.substr(kUnixScheme.size());
  if (o.muxSocket.empty()) return makeError("missing -mux-socket <path>", EINVAL);
  // Upstream takes a plain path; a unix:// form is accepted too.
  if (o.muxSocket.rfind(kUnixScheme, 0) == 0) o.muxSocket.erase(0, kUnixScheme.size());
  if (o.agentLogsSocket.rfind(kUnixScheme, 0) == 0) {
    o.agentLogsSocket.erase(0, kUnixScheme.size());
  }
  if (!o.dnsNetns.empty() && o.dnsNetns[0] != '/') {
    return makeError("invalid -dns-netns \"" + o.dnsNetns + "\": want an absolute path", EINVAL);
  }
  return o;
}

std::string versionLine() {
  return std::string("kata-proxy version ") + kVersion + " (commit " + kCommit + ")";
}

}  // namespace kata::proxy
