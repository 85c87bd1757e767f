// kata-runtime spec: writes a default config.json, as `runc spec` does.
#include <sys/stat.h>

#include "lib/fs_util.h"
#include "lib/oci_spec.h"
#include "runtime/cli/cli.h"
#include "runtime/cli/output.h"

namespace kata::cli {
namespace {

Result<int> specVerb(Context& ctx) {
  KATA_TRY(expectArgs(ctx, 0, "none"));
  const std::string bundle = ctx.args.get("bundle", ".");
  const std::string path = bundle + "/config.json";
  struct stat st;
  if (stat(path.c_str(), &st) == 0) return makeError("File " + path + " exists. Remove it first", EEXIST);
  KATA_ASSIGN_OR_RETURN(bool rootless, ctx.args.flag("rootless"));
  KATA_TRY(writeFileAtomic(path, prettyJson(oci::toJson(oci::defaultSpec(rootless))), 0644));
  return 0;
}

}  // namespace

const Command kSpecCommand = {
    "spec", "spec [command options]", "Create a new specification file",
    {{{"bundle", "b"}, true, "path to the root of the bundle directory"},
     {{"rootless"}, false, "generate a configuration for a rootless container"}},
    specVerb};

}  // namespace kata::cli
