#include "proxy/options.h"

#include <string_view>

#include "lib/go_flags.h"
#include "lib/version.h"

namespace kata::proxy {
namespace {

constexpr std::string_view kUnixScheme = "unix://";

constexpr GoFlag kFlags[] = {
    {"listen-socket", false, "unix://<path> to listen on"},
    {"mux-socket", false, "QEMU's agent channel socket"},
    {"sandbox", false, "sandbox id"},
    {"agent-logs-socket", false, "QEMU's guest console socket"},
    {"dns-netns", false, "network namespace to relay the guest's DNS queries in"},
    {"forward-netns", false, "network namespace to forward ports into the guest from (CRI)"},
    {"log", false, "log level (default \"warn\")"},
    {"debug", true, "log at debug level"},
    {"version", true, "print the version and exit"},
};

}  // namespace

Result<Options> parseOptions(const std::vector<std::string>& args) {
  KATA_ASSIGN_OR_RETURN(GoFlagArgs parsed, parseGoFlags(args, kFlags));
  if (parsed.help) return makeError("flag provided but not defined: -help", EINVAL);
  if (!parsed.positional.empty()) {
    return makeError("unexpected argument \"" + parsed.positional[0] + "\"", EINVAL);
  }
  Options o;
  o.debug = parsed.flag("debug");
  o.version = parsed.flag("version");
  const std::string listenUri = parsed.get("listen-socket");
  o.muxSocket = parsed.get("mux-socket");
  o.sandbox = parsed.get("sandbox");
  o.agentLogsSocket = parsed.get("agent-logs-socket");
  o.dnsNetns = parsed.get("dns-netns");
  o.forwardNetns = parsed.get("forward-netns");
  if (parsed.has("log")) {
    KATA_ASSIGN_OR_RETURN(o.logLevel, log::parseLevel(parsed.get("log")));
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
  if (!o.forwardNetns.empty() && o.forwardNetns[0] != '/') {
    return makeError("invalid -forward-netns \"" + o.forwardNetns + "\": want an absolute path",
                     EINVAL);
  }
  return o;
}

std::string versionLine() {
  return std::string("kata-proxy version ") + kVersion + " (commit " + kCommit + ")";
}

}  // namespace kata::proxy
