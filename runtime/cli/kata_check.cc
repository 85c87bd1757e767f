// kata-runtime kata-check: can this host run Kata VMs, and with which accelerator?
#include <cstdio>

#include "runtime/cli/cli.h"
#include "runtime/virtcontainers/diagnostics.h"

namespace kata::cli {
namespace {

Result<int> kataCheck(Context& ctx) {
  KATA_TRY(expectArgs(ctx, 0, "none"));
  KATA_ASSIGN_OR_RETURN(vc::RuntimeContext rc, ctx.runtime());
  bool failed = false;
  for (const auto& c : vc::hostChecks(rc.config)) {
    const char* tag = c.level == vc::HostCheck::Pass ? "ok  " : c.level == vc::HostCheck::Warn ? "warn" : "FAIL";
    printf("[%s] %-24s %s\n", tag, c.name.c_str(), c.detail.c_str());
    failed |= c.level == vc::HostCheck::Fail;
  }
  if (failed) {
    printf("System is NOT capable of running Kata Containers\n");
    return 1;
  }
  printf("System is capable of running Kata Containers\n");
  return 0;
}

}  // namespace

const Command kKataCheckCommand = {"kata-check", "kata-check",
                                   "Tests if system can run Kata Containers", {}, kataCheck};

}  // namespace kata::cli
