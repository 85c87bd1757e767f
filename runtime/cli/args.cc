#include "runtime/cli/args.h"

#include "lib/parse.h"

namespace kata::cli {
namespace {

const FlagSpec* findSpec(const std::vector<FlagSpec>& specs, std::string_view name) {
  for (const auto& s : specs)
    for (const auto& n : s.names)
      if (n == name) return &s;
  return nullptr;
}

}  // namespace

std::string ParsedArgs::get(const std::string& name, const std::string& fallback) const {
  auto it = values.find(name);
  if (it == values.end() || it->second.empty()) return fallback;
  return it->second.back();
}

std::vector<std::string> ParsedArgs::all(const std::string& name) const {
  auto it = values.find(name);
  return it == values.end() ? std::vector<std::string>{} : it->second;
}

Result<bool> ParsedArgs::flag(const std::string& name) const {
  auto it = values.find(name);
  if (it == values.end()) return false;
  if (it->second.empty() || it->second.back().empty()) return true;
  return parseBool(it->second.back(), "--" + name);
}

Result<ParsedArgs> parseArgs(const std::vector<std::string>& args,
                             const std::vector<FlagSpec>& specs, bool stopAtPositional) {
  ParsedArgs out;
  bool flagsDone = false;
  for (size_t i = 0; i < args.size(); i++) {
    const std::string& a = args[i];
    if (flagsDone || a.size() < 2 || a[0] != '-') {
      out.positional.push_back(a);
      if (stopAtPositional) flagsDone = true;
      continue;
    }
    if (a == "--") {
      flagsDone = true;
      continue;
    }
    std::string_view body(a);
    body.remove_prefix(body.starts_with("--") ? 2 : 1);
    std::string name(body), value;
    bool hasInlineValue = false;
    if (auto eq = body.find('='); eq != std::string_view::npos) {
      name = std::string(body.substr(0, eq));
      value = std::string(body.substr(eq + 1));
      hasInlineValue = true;
    }
    const FlagSpec* spec = findSpec(specs, name);
    if (!spec) return makeError("flag provided but not defined: -" + name, EINVAL);
    auto& slot = out.values[spec->names.front()];
    if (spec->takesValue) {
      if (!hasInlineValue) {
        if (i + 1 >= args.size()) return makeError("flag needs an argument: -" + name, EINVAL);
        value = args[++i];
      }
      slot.push_back(value);
    } else {
      slot.push_back(hasInlineValue ? value : "true");
    }
  }
  return out;
}

}  // namespace kata::cli
