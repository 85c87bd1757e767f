// Command lines in the syntax of Go's flag package, which upstream kata-proxy, kata-shim and
// containerd's shims use: one or two leading dashes, "-name value" or "-name=value"; a boolean
// flag takes no separate value ("-debug", "-debug=false"); flags end at "--" or at the first
// argument that is not a flag, and the rest are positional arguments.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/result.h"

namespace kata {

struct GoFlag {
  std::string_view name;  // without dashes
  bool isBool = false;
  std::string_view help;  // one line, for goFlagsUsage
};

struct GoFlagArgs {
  /// Every flag given, in command-line order (a repeated flag appears each time); a boolean
  /// flag's value is "true" or "false" (parsed with parseBool).
  std::vector<std::pair<std::string, std::string>> flags;
  std::vector<std::string> positional;  // after the flags
  bool help = false;                    // -h or -help, when not defined as flags

  /// The last value given for `name`, or `fallback`.
  std::string get(std::string_view name, std::string_view fallback = "") const;
  bool has(std::string_view name) const;
  /// A boolean flag: true when its last occurrence says so.
  bool flag(std::string_view name) const { return get(name, "false") == "true"; }
};

/// Parses `args` (argv without argv[0]) against `flags`. Errors are one line naming the flag,
/// in Go's words: "flag provided but not defined: -x", "flag needs an argument: -x",
/// "bad flag syntax: ---x", or parseBool's for a bad boolean.
Result<GoFlagArgs> parseGoFlags(const std::vector<std::string>& args,
                                std::span<const GoFlag> flags);

/// "Usage of <program>:" and one entry per flag, as Go's flag package prints it.
std::string goFlagsUsage(std::string_view program, std::span<const GoFlag> flags);

}  // namespace kata
