// kata-runtime state: the OCI state of a container as JSON.
#include <cstdio>

#include "lib/oci_state.h"
#include "runtime/cli/cli.h"
#include "runtime/cli/output.h"

namespace kata::cli {

/// The JSON runc prints for `state` and `list --format json`.
Json::Value containerJson(const vc::ContainerInfo& info) {
  oci::State st;
  st.id = info.state.id;
  st.status = info.status;
  st.pid = info.pid;
  st.bundle = info.state.bundle;
  st.annotations = info.state.annotations;
  Json::Value v = oci::toJson(st);
  v["rootfs"] = info.state.bundle + "/rootfs";
  v["created"] = info.state.created;
  v["owner"] = "";
  return v;
}

namespace {

Result<int> stateVerb(Context& ctx) {
  KATA_TRY(expectArgs(ctx, 1, "container id"));
  KATA_ASSIGN_OR_RETURN(vc::RuntimeContext rc, ctx.runtime());
  KATA_ASSIGN_OR_RETURN(vc::ContainerInfo info, vc::containerInfo(rc, ctx.args.positional[0]));
  fputs(prettyJson(containerJson(info)).c_str(), stdout);
  return 0;
}

}  // namespace

const Command kStateCommand = {"state", "state <container-id>",
                               "Output the state of a container", {}, stateVerb};

}  // namespace kata::cli
