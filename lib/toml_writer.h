// Renders a JSON document as TOML: nested objects become [Section.Sub] tables. Used by
// `kata-runtime kata-env`, which prints the same report as TOML (default) or JSON.
#pragma once

#include <json/json.h>

#include <string>

namespace kata {

/// Top-level scalars first, then one table per object member, recursively. Arrays of scalars
/// are inline arrays; strings are quoted with TOML escapes.
std::string toToml(const Json::Value& document);

}  // namespace kata
