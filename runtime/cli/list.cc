// kata-runtime list: every container under --root, as a table or JSON.
#include <cstdio>

#include "runtime/cli/cli.h"
#include "runtime/cli/output.h"

namespace kata::cli {

Json::Value containerJson(const vc::ContainerInfo& info);  // state.cc

namespace {

Result<int> listVerb(Context& ctx) {
  KATA_TRY(expectArgs(ctx, 0, "none"));
  const std::string format = ctx.args.get("format", "table");
  if (format != "table" && format != "json")
    return makeError("invalid format option \"" + format + "\" (want table or json)", EINVAL);
  KATA_ASSIGN_OR_RETURN(bool quiet, ctx.args.flag("quiet"));
  KATA_ASSIGN_OR_RETURN(vc::RuntimeContext rc, ctx.runtime());
  KATA_ASSIGN_OR_RETURN(std::vector<vc::ContainerInfo> all, vc::listContainers(rc));
  if (quiet) {
    for (const auto& c : all) printf("%s\n", c.state.id.c_str());
    return 0;
  }
  if (format == "json") {
    Json::Value arr(Json::arrayValue);
    for (const auto& c : all) arr.append(containerJson(c));
    fputs(prettyJson(all.empty() ? Json::Value(Json::nullValue) : arr).c_str(), stdout);
    return 0;
  }
  size_t w = 2;
  for (const auto& c : all) w = std::max(w, c.state.id.size());
  printf("%-*s   %-8s %-10s %-40s %-30s %s\n", int(w), "ID", "PID", "STATUS", "BUNDLE",
         "CREATED", "OWNER");
  for (const auto& c : all)
    printf("%-*s   %-8d %-10s %-40s %-30s %s\n", int(w), c.state.id.c_str(), c.pid,
           c.status.c_str(), c.state.bundle.c_str(), c.state.created.c_str(), "root");
  return 0;
}

}  // namespace

const Command kListCommand = {
    "list", "list [command options]", "Lists containers started by kata-runtime with the given root",
    {{{"format", "f"}, true, "select one of: table or json"},
     {{"quiet", "q"}, false, "display only container IDs"},
     {{"kata-all"}, false, "display all available Kata information (same as the default here)"}},
    listVerb};

}  // namespace kata::cli
