// Output helpers shared by the query verbs.
#pragma once

#include <json/json.h>

#include <string>

#include "lib/result.h"

namespace kata::cli {

/// JSON indented as runc prints it (two spaces), followed by a newline.
std::string prettyJson(const Json::Value& value);

/// The guest's `ps --format json` answer (a JSON array of pids) re-encoded by us as runc
/// prints it ("[1,7]\n"), so that only numbers reach the terminal; anything else is an error.
Result<std::string> reencodePidList(const std::string& fromGuest);

}  // namespace kata::cli
