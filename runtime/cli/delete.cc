// kata-runtime delete: removes a stopped (or, with --force, any) container and its resources.
#include "runtime/cli/cli.h"

namespace kata::cli {
namespace {

Result<int> deleteVerb(Context& ctx) {
  KATA_TRY(expectArgs(ctx, 1, "container id"));
  KATA_ASSIGN_OR_RETURN(bool force, ctx.args.flag("force"));
  KATA_ASSIGN_OR_RETURN(vc::RuntimeContext rc, ctx.runtime());
  KATA_TRY(vc::deleteContainer(rc, ctx.args.positional[0], force));
  return 0;
}

}  // namespace

const Command kDeleteCommand = {
    "delete", "delete [command options] <container-id>",
    "Delete any resources held by one container",
    {{{"force", "f"}, false, "forcibly delete the container, killing it if it is running"}},
    deleteVerb};

}  // namespace kata::cli
