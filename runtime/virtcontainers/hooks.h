// OCI hooks, run by the runtime on the host with the container's state JSON on stdin.
#pragma once

#include <json/json.h>

#include <string>

#include "lib/oci_state.h"
#include "lib/result.h"

namespace kata::vc {

/// Runs every hook of `kind` ("prestart", "createRuntime", "poststart", "poststop", ...) from a
/// spec's JSON "hooks" object, in order. A hook that fails or outlives its timeout stops the
/// sequence with an error naming it.
Status runHooks(const Json::Value& hooks, const std::string& kind, const oci::State& state);

/// The create hooks (prestart, then createRuntime) of a sandbox whose network namespace is
/// `netns`, before the runtime scans it, as upstream Kata 1.x runs them: `state.pid` is a
/// process parked in that namespace for the hooks' length, so that a hook setting up the
/// container's network (Docker's libnetwork) finds it at /proc/<pid>/ns/net. The hooks
/// themselves run in the runtime's namespaces, as under runc. "" = the runtime's own pid.
Status runCreateHooks(const Json::Value& hooks, oci::State state, const std::string& netns);

}  // namespace kata::vc
