// Command-line parsing with runc's (urfave/cli) conventions: `--name value`, `--name=value`,
// `-n value`, boolean flags without a value, `--` ends the flags. Global flags come before the
// command; a command's flags may be interspersed with its arguments unless the command takes a
// command line of its own (exec), where flags end at the first argument.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "lib/result.h"

namespace kata::cli {

struct FlagSpec {
  std::vector<std::string> names;  // long name first, then aliases ("bundle", "b")
  bool takesValue = false;
  std::string help;
};

struct ParsedArgs {
  std::map<std::string, std::vector<std::string>> values;  // keyed by the flag's long name
  std::vector<std::string> positional;

  bool has(const std::string& name) const { return values.count(name) > 0; }
  /// The last value given for a flag, or `fallback`.
  std::string get(const std::string& name, const std::string& fallback = "") const;
  /// Every value of a repeatable flag, in order.
  std::vector<std::string> all(const std::string& name) const;
  /// A boolean flag: present without a value, or with "true"/"false".
  Result<bool> flag(const std::string& name) const;
};

/// Parses `args` against `specs`. With `stopAtPositional`, everything from the first
/// non-flag argument on is positional.
Result<ParsedArgs> parseArgs(const std::vector<std::string>& args,
                             const std::vector<FlagSpec>& specs, bool stopAtPositional);

}  // namespace kata::cli
