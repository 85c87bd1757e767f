// kata-runtime version.
#include <cstdio>

#include "lib/version.h"
#include "runtime/cli/cli.h"

namespace kata::cli {
namespace {

Result<int> versionVerb(Context&) {
  printf("kata-runtime  : %s\n   commit   : %s\n   OCI specs: %s\n", kVersion, kCommit,
         kOciSpecVersion);
  return 0;
}

}  // namespace

const Command kVersionCommand = {"version", "version", "Show the version", {}, versionVerb};

}  // namespace kata::cli
