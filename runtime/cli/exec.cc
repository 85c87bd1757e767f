// kata-runtime exec: runs a new process inside a running container.
#include "lib/fs_util.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "runtime/cli/cli.h"
#include "runtime/virtcontainers/spec_convert.h"

namespace kata::cli {
namespace {

// The process from --process, or from the command line on top of the container's own process
// settings (env, cwd, user, capabilities), as runc does.
Result<oci::Process> processFromArgs(const Context& ctx, const std::string& bundle) {
  if (ctx.args.has("process")) {
    KATA_ASSIGN_OR_RETURN(std::string text, readFile(ctx.args.get("process"), 4 << 20));
    return oci::parseProcess(text, ctx.args.get("process"));
  }
  oci::Process p;
  if (auto spec = oci::loadSpec(bundle); spec.ok() && spec->process) p = *spec->process;
  p.args.assign(ctx.args.positional.begin() + 1, ctx.args.positional.end());
  if (p.args.empty()) return makeError("exec: no command given (args or --process)", EINVAL);
  KATA_ASSIGN_OR_RETURN(p.terminal, ctx.args.flag("tty"));
  p.consoleSize.reset();
  if (ctx.args.has("cwd")) p.cwd = ctx.args.get("cwd");
  for (const auto& e : ctx.args.all("env")) p.env.push_back(e);
  if (ctx.args.has("user")) {
    std::string u = ctx.args.get("user");
    size_t colon = u.find(':');
    KATA_ASSIGN_OR_RETURN(p.user.uid, parseInt<uint32_t>(u.substr(0, colon), "--user"));
    if (colon != std::string::npos) {
      KATA_ASSIGN_OR_RETURN(p.user.gid, parseInt<uint32_t>(u.substr(colon + 1), "--user group"));
    }
  }
  for (const auto& g : ctx.args.all("additional-gids")) {
    KATA_ASSIGN_OR_RETURN(uint32_t gid, parseInt<uint32_t>(g, "--additional-gids"));
    p.user.additionalGids.push_back(gid);
  }
  KATA_ASSIGN_OR_RETURN(bool nnp, ctx.args.flag("no-new-privs"));
  if (nnp) p.noNewPrivileges = true;
  for (const auto& cap : ctx.args.all("cap")) {
    if (!p.capabilities) p.capabilities = oci::Capabilities{};
    for (auto* set :
         {&p.capabilities->bounding, &p.capabilities->effective, &p.capabilities->permitted})
      set->push_back(cap);
  }
  if (ctx.args.has("process-label")) p.selinuxLabel = ctx.args.get("process-label");
  if (ctx.args.has("apparmor")) p.apparmorProfile = ctx.args.get("apparmor");
  return p;
}

Result<int> execVerb(Context& ctx) {
  if (ctx.args.positional.empty()) return makeError("requires a container id", EINVAL);
  if (!ctx.args.has("process") && ctx.args.positional.size() < 2)
    return makeError("exec: no command given (args or --process)", EINVAL);
  KATA_TRY(checkPreserveFds(ctx));
  KATA_ASSIGN_OR_RETURN(vc::RuntimeContext rc, ctx.runtime());
  vc::ExecRequest req;
  req.id = ctx.args.positional[0];
  KATA_ASSIGN_OR_RETURN(vc::ContainerInfo info, vc::containerInfo(rc, req.id));
  KATA_ASSIGN_OR_RETURN(req.process, processFromArgs(ctx, info.state.bundle));
  KATA_TRY(vc::checkGuestCanHonour(req.process));
  KATA_ASSIGN_OR_RETURN(req.detach, ctx.args.flag("detach"));
  req.consoleSocket = ctx.args.get("console-socket");
  req.pidFile = ctx.args.get("pid-file");
  KATA_ASSIGN_OR_RETURN(vc::ShimHandle shim, vc::execProcess(rc, req));
  if (req.detach) return 0;
  return vc::waitForeground(shim);
}

}  // namespace

const Command kExecCommand = {
    "exec",
    "exec [command options] <container-id> <command> [command options]",
    "Execute new process inside the container",
    {{{"console"}, true, "path to a pseudo terminal (unused, for compatibility)"},
     {{"console-socket"}, true, "path to an AF_UNIX socket receiving the pty master"},
     {{"cwd"}, true, "current working directory in the container"},
     {{"env", "e"}, true, "set environment variables"},
     {{"tty", "t"}, false, "allocate a pseudo-TTY"},
     {{"user", "u"}, true, "UID (format: <uid>[:<gid>])"},
     {{"additional-gids", "g"}, true, "additional gids"},
     {{"process", "p"}, true, "path to the process.json"},
     {{"detach", "d"}, false, "detach from the container's process"},
     {{"pid-file"}, true, "file to write the process id to"},
     {{"process-label"}, true, "set the asm process label for the process"},
     {{"apparmor"}, true, "set the apparmor profile for the process"},
     {{"no-new-privs"}, false, "set the no new privileges value for the process"},
     {{"cap", "c"}, true, "add a capability to the bounding set for the process"},
     {{"no-subreaper"},
      false,
      "disable the use of the subreaper used to reap reparented processes"},
     kPreserveFdsFlag},
    execVerb,
    true};

}  // namespace kata::cli
