#include "lib/go_flags.h"

#include "lib/parse.h"

namespace kata {
namespace {

const GoFlag* findFlag(std::span<const GoFlag> flags, std::string_view name) {
  for (const GoFlag& f : flags) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

}  // namespace

std::string GoFlagArgs::get(std::string_view name, std::string_view fallback) const {
  for (auto it = flags.rbegin(); it != flags.rend(); ++it) {
    if (it->first == name) return it->second;
  }
  return std::string(fallback);
}

bool GoFlagArgs::has(std::string_view name) const {
  for (const auto& [n, v] : flags) {
    if (n == name) return true;
  }
  return false;
}

Result<GoFlagArgs> parseGoFlags(const std::vector<std::string>& args,
                                std::span<const GoFlag> flags) {
  GoFlagArgs out;
  size_t i = 0;
  for (; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg.size() < 2 || arg[0] != '-') break;  // the first non-flag ends the flags
    if (arg == "--") {
      ++i;
      break;
    }
    std::string_view body = arg.substr(arg[1] == '-' ? 2 : 1);
    if (body.empty() || body[0] == '-' || body[0] == '=') {
      return makeError("bad flag syntax: " + std::string(arg), EINVAL);
    }
    std::string_view name = body;
    std::string_view value;
    bool hasValue = false;
    if (size_t eq = body.find('='); eq != std::string_view::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
      hasValue = true;
    }
    const GoFlag* spec = findFlag(flags, name);
    if (spec == nullptr) {
      if (name == "help" || name == "h") {
        out.help = true;
        continue;
      }
      return makeError("flag provided but not defined: -" + std::string(name), EINVAL);
    }
    const std::string dashed = "-" + std::string(name);
    if (spec->isBool) {
      bool b = true;
      if (hasValue) {
        KATA_ASSIGN_OR_RETURN(b, parseBool(value, dashed));
      }
      out.flags.emplace_back(name, b ? "true" : "false");
      continue;
    }
    if (!hasValue) {
      if (i + 1 >= args.size()) return makeError("flag needs an argument: " + dashed, EINVAL);
      value = args[++i];
    }
    out.flags.emplace_back(name, value);
  }
  out.positional.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
  return out;
}

std::string goFlagsUsage(std::string_view program, std::span<const GoFlag> flags) {
  std::string out = "Usage of " + std::string(program) + ":\n";
  for (const GoFlag& f : flags) {
    out += "  -";
    out += f.name;
    if (!f.isBool) out += " value";
    out += "\n    \t";
    out += f.help;
    out += '\n';
  }
  return out;
}

}  // namespace kata
