#include "runtime/containerd-shim-v2/options.h"

#include "lib/container_id.h"
#include "lib/go_flags.h"
#include "lib/version.h"

namespace kata::shimv2 {
namespace {

constexpr GoFlag kFlags[] = {
    {"namespace", false, "namespace that owns the shim"},
    {"address", false, "grpc address back to main containerd"},
    {"publish-binary", false, "path to publish binary (used for publishing events)"},
    {"id", false, "id of the task"},
    {"bundle", false, "path to the bundle if not workdir"},
    {"socket", false, "socket path to serve"},
    {"debug", true, "enable debug output in logs"},
    {"v", true, "show the shim version and exit"},
    {"version", true, "show the shim version and exit"},
};

}  // namespace

Result<Options> parseOptions(const std::vector<std::string>& args, const std::string& cwd,
                             const std::string& ttrpcAddress) {
  KATA_ASSIGN_OR_RETURN(GoFlagArgs parsed, parseGoFlags(args, kFlags));
  Options o;
  if (parsed.flag("v") || parsed.flag("version")) {
    o.action = Action::Version;
    return o;
  }
  if (parsed.help) {
    o.action = Action::Help;
    return o;
  }
  o.ns = parsed.get("namespace");
  o.address = parsed.get("address");
  o.publishBinary = parsed.get("publish-binary", o.publishBinary);
  o.id = parsed.get("id");
  o.bundle = parsed.get("bundle", cwd);
  o.socket = parsed.get("socket");
  o.debug = parsed.flag("debug");
  o.ttrpcAddress = ttrpcAddress;

  if (!parsed.positional.empty()) {
    const std::string& action = parsed.positional[0];
    if (action == "start") {
      o.action = Action::Start;
    } else if (action == "delete") {
      o.action = Action::Delete;
    } else {
      return makeError("unknown action \"" + action + "\" (want start or delete)", EINVAL);
    }
    if (parsed.positional.size() > 1) {
      return makeError("unexpected argument \"" + parsed.positional[1] + "\" after " + action,
                       EINVAL);
    }
  }
  if (o.ns.empty())
    return makeError("missing -namespace: the shim namespace cannot be empty", EINVAL);
  if (o.id.empty()) return makeError("missing -id: the task id cannot be empty", EINVAL);
  KATA_TRY_CTX(validateContainerId(o.id), "-id");
  if (o.address.empty()) return makeError("missing -address: containerd's socket", EINVAL);
  if (o.publishBinary.empty()) return makeError("empty -publish-binary", EINVAL);
  if (o.bundle.empty() || o.bundle[0] != '/') {
    return makeError("invalid -bundle \"" + o.bundle + "\": want an absolute path", EINVAL);
  }
  return o;
}

std::vector<std::string> toArgs(const Options& o) {
  std::vector<std::string> args = {"-namespace",    o.ns,  "-address", o.address, "-publish-binary",
                                   o.publishBinary, "-id", o.id,       "-bundle", o.bundle};
  if (!o.socket.empty()) {
    args.push_back("-socket");
    args.push_back(o.socket);
  }
  if (o.debug) args.push_back("-debug");
  return args;
}

std::string usage() { return goFlagsUsage("containerd-shim-kata-v2", kFlags); }

std::string versionLine() {
  return std::string("containerd-shim-kata-v2 version ") + kVersion + " (commit " + kCommit + ")";
}

}  // namespace kata::shimv2
