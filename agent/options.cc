#include "agent/options.h"

#include <sstream>

namespace kata::agent {

Result<AgentOptions> parseArgs(const std::vector<std::string>& args) {
  AgentOptions opts;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string name = args[i];
    std::string value;
    bool hasValue = false;
    if (auto eq = name.find('='); name.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      hasValue = true;
    }
    auto takeValue = [&]() -> Result<std::string> {
      if (hasValue) return value;
      if (i + 1 >= args.size()) return makeError("option " + name + " needs a value");
      return args[++i];
    };
    if (name == "--version" || name == "-version") {
      opts.showVersion = true;
    } else if (name == "--listen") {
      KATA_ASSIGN_OR_RETURN(auto v, takeValue());
      KATA_TRY(unixSocketPath(v));
      opts.listen.push_back(v);
    } else if (name == "--log-level") {
      KATA_ASSIGN_OR_RETURN(auto v, takeValue());
      KATA_ASSIGN_OR_RETURN(opts.logLevel, log::parseLevel(v));
      opts.logLevelGiven = true;
    } else if (name == "--channel") {
      KATA_ASSIGN_OR_RETURN(auto v, takeValue());
      if (v == "auto") {
        opts.channel = ChannelMode::Auto;
      } else if (v == "none") {
        opts.channel = ChannelMode::None;
      } else {
        return makeError("--channel: expected auto or none, got \"" + v + "\"");
      }
    } else if (name == "--modules-list") {
      KATA_ASSIGN_OR_RETURN(opts.modulesList, takeValue());
    } else if (name == "--sysfs-root" || name == "--random-device" || name == "--copy-root") {
      std::string& target = name == "--sysfs-root"      ? opts.sysfsRoot
                            : name == "--random-device" ? opts.randomDevice
                                                        : opts.copyRoot;
      KATA_ASSIGN_OR_RETURN(target, takeValue());
      if (target.rfind('/', 0) != 0) {
        return makeError(name + ": \"" + target + "\" is not an absolute path");
      }
      while (target.size() > 1 && target.back() == '/') target.pop_back();
    } else {
      return makeError("unknown option \"" + args[i] + "\"");
    }
  }
  return opts;
}

KernelParams parseKernelCmdline(std::string_view cmdline) {
  KernelParams params;
  std::istringstream in{std::string(cmdline)};
  std::string word;
  while (in >> word) {
    if (word == "agent.log=debug") params.debugLog = true;
    if (word == "agent.debug_console") params.debugConsole = true;
    if (word == "agent.use_vsock=false" || word == "agent.use_vsock=0") params.useVsock = false;
    if (word == "agent.use_vsock=true" || word == "agent.use_vsock=1") params.useVsock = true;
  }
  return params;
}

Result<std::string> unixSocketPath(std::string_view address) {
  std::string_view path;
  if (address.rfind("unix://", 0) == 0) {
    path = address.substr(7);
  } else if (address.rfind("unix:", 0) == 0) {
    path = address.substr(5);
  } else {
    return makeError("listen address \"" + std::string(address) +
                     "\": only unix:///path is supported");
  }
  if (path.empty() || path[0] != '/') {
    return makeError("listen address \"" + std::string(address) + "\": path must be absolute");
  }
  return std::string(path);
}

}  // namespace kata::agent
