// kata-runtime ps: the processes of a container as `ps` prints them in the guest, or (JSON) the
// host pids of the shims that stand for them.
#include <cstdio>

#include "lib/printable.h"
#include "runtime/cli/cli.h"
#include "runtime/cli/output.h"

namespace kata::cli {
namespace {

Result<int> psVerb(Context& ctx) {
  if (ctx.args.positional.empty()) return makeError("requires a container id", EINVAL);
  const std::string format = ctx.args.get("format", "table");
  if (format != "table" && format != "json")
    return makeError("invalid format option \"" + format + "\" (want table or json)", EINVAL);
  std::vector<std::string> psArgs(ctx.args.positional.begin() + 1, ctx.args.positional.end());
  if (format == "json" && !psArgs.empty())
    return makeError("ps options cannot be used with --format json", EINVAL);
  KATA_ASSIGN_OR_RETURN(vc::RuntimeContext rc, ctx.runtime());
  std::string list;
  if (format == "json") {
    // Host pids, as runc's: Docker's `docker top` runs the host's `ps` on them.
    KATA_ASSIGN_OR_RETURN(std::vector<pid_t> pids, vc::hostPids(rc, ctx.args.positional[0]));
    list = pidListJson(pids);
  } else {
    KATA_ASSIGN_OR_RETURN(list, vc::listProcesses(rc, ctx.args.positional[0], psArgs));
    list = printable(list, true);  // the guest's `ps` table: its lines and columns, no escapes
  }
  fwrite(list.data(), 1, list.size(), stdout);
  return 0;
}

}  // namespace

const Command kPsCommand = {"ps", "ps [command options] <container-id> [ps options]",
                            "ps displays the processes running inside a container",
                            {{{"format", "f"}, true, "select one of: table or json"}}, psVerb,
                            true};

}  // namespace kata::cli
