// kata-runtime pause / resume: freeze and thaw every process of a container.
#include "runtime/cli/cli.h"

namespace kata::cli {
namespace {

Result<int> pauseOrResume(Context& ctx, bool pause) {
  KATA_TRY(expectArgs(ctx, 1, "container id"));
  KATA_ASSIGN_OR_RETURN(vc::RuntimeContext rc, ctx.runtime());
  KATA_TRY(vc::pauseContainer(rc, ctx.args.positional[0], pause));
  return 0;
}

Result<int> pauseVerb(Context& ctx) { return pauseOrResume(ctx, true); }
Result<int> resumeVerb(Context& ctx) { return pauseOrResume(ctx, false); }

}  // namespace

const Command kPauseCommand = {"pause", "pause <container-id>",
                               "Suspend all processes in a container", {}, pauseVerb};
const Command kResumeCommand = {"resume", "resume <container-id>",
                                "Resume all processes of a paused container", {}, resumeVerb};

}  // namespace kata::cli
