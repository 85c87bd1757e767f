// kata-runtime kill: sends a signal (default TERM) to the container's process.
#include "runtime/cli/cli.h"

namespace kata::cli {
namespace {

Result<int> killVerb(Context& ctx) {
  const auto& pos = ctx.args.positional;
  if (pos.empty() || pos.size() > 2)
    return makeError("requires a container id and an optional signal", EINVAL);
  KATA_ASSIGN_OR_RETURN(int sig, vc::parseSignal(pos.size() == 2 ? pos[1] : "TERM"));
  KATA_ASSIGN_OR_RETURN(bool all, ctx.args.flag("all"));
  KATA_ASSIGN_OR_RETURN(vc::RuntimeContext rc, ctx.runtime());
  KATA_TRY(vc::killContainer(rc, pos[0], sig, all));
  return 0;
}

}  // namespace

const Command kKillCommand = {
    "kill", "kill [command options] <container-id> [signal]",
    "Kill sends signals to the container's init process",
    {{{"all", "a"}, false, "send the signal to all processes in the container"}}, killVerb};

}  // namespace kata::cli
