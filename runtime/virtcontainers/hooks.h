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

}  // namespace kata::vc
