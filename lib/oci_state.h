// The OCI runtime state document that `kata-runtime state <id>` prints (and runc prints).
#pragma once

#include <json/json.h>
#include <sys/types.h>

#include <map>
#include <string>
#include <string_view>

#include "lib/oci_spec.h"
#include "lib/result.h"

namespace kata::oci {

struct State {
  std::string ociVersion = kOciVersion;
  std::string id;
  std::string status;  // "creating" | "created" | "running" | "paused" | "stopped"
  pid_t pid = 0;       // 0 when the container process does not exist
  std::string bundle;  // absolute path
  std::map<std::string, std::string> annotations;
  bool operator==(const State&) const = default;
};

/// {"ociVersion","id","status","pid","bundle","annotations"}; "annotations" is omitted when
/// empty, as runc does.
Json::Value toJson(const State& state);

/// Strict inverse of toJson (used for hook stdin and tests).
Result<State> parseState(const Json::Value& value);

}  // namespace kata::oci
