// kata-runtime run: create + start; in the foreground it waits for the process, returns its
// exit status and deletes the container, as runc does.
#include "runtime/cli/cli.h"

#include "lib/log.h"

namespace kata::cli {
namespace {

Result<int> run(Context& ctx) {
  KATA_TRY(expectArgs(ctx, 1, "container id"));
  KATA_TRY(checkPreserveFds(ctx));
  KATA_ASSIGN_OR_RETURN(vc::RuntimeContext rc, ctx.runtime());
  KATA_ASSIGN_OR_RETURN(bool detach, ctx.args.flag("detach"));
  vc::CreateRequest req;
  req.id = ctx.args.positional[0];
  req.bundle = ctx.args.get("bundle", ".");
  req.pidFile = ctx.args.get("pid-file");
  req.consoleSocket = ctx.args.get("console-socket");
  req.foregroundShim = !detach;
  KATA_ASSIGN_OR_RETURN(vc::ShimHandle shim, vc::createContainer(rc, req));
  auto started = vc::startContainer(rc, req.id);
  if (!started.ok()) {
    (void)vc::deleteContainer(rc, req.id, true);
    return std::move(started).error();
  }
  if (detach) {
    if (shim.child) shim.child->release();
    return 0;
  }
  auto code = vc::waitForeground(shim);
  auto deleted = vc::deleteContainer(rc, req.id, true);
  if (!deleted.ok()) log::warn("cleanup after run: " + deleted.error().str(), {{"container", req.id}});
  if (!code.ok()) return std::move(code).error();
  return *code;
}

}  // namespace

const Command kRunCommand = {
    "run",
    "run [command options] <container-id>",
    "Create and run a container",
    {{{"bundle", "b"}, true, "path to the root of the bundle directory"},
     {{"console"}, true, "path to a pseudo terminal (unused, for compatibility)"},
     {{"console-socket"}, true, "path to an AF_UNIX socket receiving the pty master"},
     {{"pid-file"}, true, "file to write the process id to"},
     {{"detach", "d"}, false, "detach from the container's process"},
     {{"no-pivot"}, false, "do not use pivot root (no effect: the guest always pivots)"},
     kPreserveFdsFlag},
    run};

}  // namespace kata::cli
