// Output helpers shared by the query verbs.
#pragma once

#include <json/json.h>
#include <sys/types.h>

#include <string>
#include <vector>

namespace kata::cli {

/// JSON indented as runc prints it (two spaces), followed by a newline.
std::string prettyJson(const Json::Value& value);

/// A pid list as runc's `ps --format json` prints it: "[1,7]\n".
std::string pidListJson(const std::vector<pid_t>& pids);

}  // namespace kata::cli
