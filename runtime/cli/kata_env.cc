// kata-runtime kata-env: every component's settings and versions, as TOML or JSON.
#include <unistd.h>

#include <climits>
#include <cstdio>

#include "lib/toml_writer.h"
#include "runtime/cli/cli.h"
#include "runtime/cli/output.h"
#include "runtime/virtcontainers/diagnostics.h"

namespace kata::cli {
namespace {

Result<int> kataEnv(Context& ctx) {
  KATA_TRY(expectArgs(ctx, 0, "none"));
  KATA_ASSIGN_OR_RETURN(bool json, ctx.args.flag("json"));
  KATA_ASSIGN_OR_RETURN(vc::RuntimeContext rc, ctx.runtime());
  char self[PATH_MAX] = {};
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  Json::Value report = vc::environmentReport(rc.config, n > 0 ? std::string(self, size_t(n)) : "");
  fputs(json ? prettyJson(report).c_str() : toToml(report).c_str(), stdout);
  return 0;
}

}  // namespace

const Command kKataEnvCommand = {"kata-env", "kata-env [command options]",
                                 "Display settings. Use --json for JSON output",
                                 {{{"json"}, false, "format output as JSON"}}, kataEnv};

}  // namespace kata::cli
