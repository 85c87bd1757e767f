// Output helpers shared by the query verbs.
#pragma once

#include <json/json.h>

#include <string>

namespace kata::cli {

/// JSON indented as runc prints it (two spaces), followed by a newline.
std::string prettyJson(const Json::Value& value);

}  // namespace kata::cli
