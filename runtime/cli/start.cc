// kata-runtime start: runs the process of a created container.
#include "runtime/cli/cli.h"

namespace kata::cli {
namespace {

Result<int> start(Context& ctx) {
  KATA_TRY(expectArgs(ctx, 1, "container id"));
  KATA_ASSIGN_OR_RETURN(vc::RuntimeContext rc, ctx.runtime());
  KATA_TRY(vc::startContainer(rc, ctx.args.positional[0]));
  return 0;
}

}  // namespace

const Command kStartCommand = {"start", "start <container-id>",
                               "Execute the user process of a created container", {}, start};

}  // namespace kata::cli
