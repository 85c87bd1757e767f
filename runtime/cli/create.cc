// kata-runtime create: sets up the sandbox VM and the container without starting its process.
#include "runtime/cli/cli.h"

namespace kata::cli {
namespace {

Result<int> create(Context& ctx) {
  KATA_TRY(expectArgs(ctx, 1, "container id"));
  KATA_TRY(checkPreserveFds(ctx));
  KATA_ASSIGN_OR_RETURN(vc::RuntimeContext rc, ctx.runtime());
  vc::CreateRequest req;
  req.id = ctx.args.positional[0];
  req.bundle = ctx.args.get("bundle", ".");
  req.pidFile = ctx.args.get("pid-file");
  req.consoleSocket = ctx.args.get("console-socket");
  KATA_ASSIGN_OR_RETURN(vc::ShimHandle shim, vc::createContainer(rc, req));
  (void)shim;
  return 0;
}

}  // namespace

const Command kCreateCommand = {
    "create",
    "create [command options] <container-id>",
    "Create a container",
    {{{"bundle", "b"}, true, "path to the root of the bundle directory"},
     {{"console"}, true, "path to a pseudo terminal (unused, for compatibility)"},
     {{"console-socket"}, true, "path to an AF_UNIX socket receiving the pty master"},
     {{"pid-file"}, true, "file to write the process id to"},
     {{"no-pivot"}, false, "do not use pivot root (no effect: the guest always pivots)"},
     kPreserveFdsFlag},
    create};

}  // namespace kata::cli
