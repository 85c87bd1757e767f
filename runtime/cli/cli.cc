#include "runtime/cli/cli.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "lib/log.h"
#include "lib/printable.h"

namespace kata::cli {
namespace {

const std::vector<FlagSpec> kGlobalFlags = {
    {{"debug"}, false, "enable debug output for logging"},
    {{"log"}, true, "set the log file path where internal debug information is written"},
    {{"log-format"}, true, "set the format used by logs ('text' (default), or 'json')"},
    {{"root"}, true, "root directory for storage of container state"},
    {{"rootless"}, true, "ignore cgroup permission errors ('true', 'false', or 'auto')"},
    {{"systemd-cgroup"}, false, "enable systemd cgroup support"},
    {{"kata-config"}, true, "kata config file path"},
    {{"kata-show-default-config-paths"}, false, "show config file paths that will be checked"},
    {{"help", "h"}, false, "show help"},
    {{"version", "v"}, false, "print the version"},
};

void printUsage(FILE* out) {
  fprintf(out,
          "NAME:\n   kata-runtime - OCI runtime that runs every container in a lightweight VM\n\n"
          "USAGE:\n   kata-runtime [global options] command [command options] [arguments...]\n\n"
          "COMMANDS:\n");
  for (const auto& c : commands()) fprintf(out, "   %-12s %s\n", c.name, c.summary);
  fprintf(out, "\nGLOBAL OPTIONS:\n");
  for (const auto& f : kGlobalFlags)
    fprintf(out, "   --%-32s %s\n", (f.names[0] + (f.takesValue ? " value" : "")).c_str(),
            f.help.c_str());
}

void printCommandUsage(const Command& c) {
  printf("NAME:\n   kata-runtime %s - %s\n\nUSAGE:\n   kata-runtime %s\n", c.name, c.summary,
         c.usage);
  if (!c.flags.empty()) printf("\nOPTIONS:\n");
  for (const auto& f : c.flags) {
    std::string names;
    for (const auto& n : f.names) names += (names.empty() ? "" : ", ") + std::string(n.size() == 1 ? "-" : "--") + n;
    printf("   %-34s %s\n", (names + (f.takesValue ? " value" : "")).c_str(), f.help.c_str());
  }
}

// One line on stderr for the user, and the same message as an error in the log, where
// containerd looks for it. Messages carry guest text (agent errors): control bytes are shown
// escaped, never sent to the operator's terminal (the log escapes them itself).
int fail(const std::string& msg) {
  log::error(msg);
  fprintf(stderr, "kata-runtime: %s\n", printable(msg).c_str());
  return 1;
}

}  // namespace

Result<vc::RuntimeContext> Context::runtime() const {
  vc::RuntimeContext rc;
  KATA_ASSIGN_OR_RETURN(rc.config, config::load(global.kataConfig));
  rc.root = global.root;
  if (global.debug || rc.config.runtime.enable_debug) log::setLevel(log::Level::Debug);
  return rc;
}

Status expectArgs(const Context& ctx, size_t n, const char* what) {
  if (ctx.args.positional.size() != n)
    return makeError(std::string("requires exactly ") + std::to_string(n) + " argument" +
                         (n == 1 ? "" : "s") + " (" + what + "), got " +
                         std::to_string(ctx.args.positional.size()),
                     EINVAL);
  return okStatus();
}

const FlagSpec kPreserveFdsFlag = {
    {"preserve-fds"}, true, "pass N additional file descriptors (only 0: fds cannot enter the VM)"};

Status checkPreserveFds(const Context& ctx) {
  if (!ctx.args.has("preserve-fds")) return okStatus();
  std::string n = ctx.args.get("preserve-fds");
  if (n.empty() || n.find_first_not_of("0123456789") != std::string::npos)
    return makeError("--preserve-fds: \"" + n.substr(0, 32) + "\" is not a number", EINVAL);
  if (n.find_first_not_of('0') != std::string::npos)
    return makeError("--preserve-fds " + n.substr(0, 32) +
                         ": host file descriptors cannot be passed into the VM",
                     ENOTSUP);
  return okStatus();
}

int runCli(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  // Global flags: everything before the command name.
  size_t i = 0;
  std::vector<std::string> globalArgs;
  while (i < args.size() && args[i].size() > 1 && args[i][0] == '-') {
    globalArgs.push_back(args[i]);
    std::string name = args[i].substr(args[i].find_first_not_of('-'));
    bool inlineValue = name.find('=') != std::string::npos;
    name = name.substr(0, name.find('='));
    for (const auto& f : kGlobalFlags)
      if (f.takesValue && f.names[0] == name && !inlineValue && i + 1 < args.size())
        globalArgs.push_back(args[++i]);
    i++;
  }
  log::Options lo;
  lo.name = "kata-runtime";
  lo.source = "runtime";
  lo.fd = -1;  // without --log, only the one-line error on stderr (and --debug output)
  auto global = parseArgs(globalArgs, kGlobalFlags, false);
  if (!global.ok()) {
    (void)log::init(lo);
    fprintf(stderr, "kata-runtime: %s\n", printable(global.error().message).c_str());
    printUsage(stderr);
    return 1;
  }
  Context ctx;
  ctx.global.debug = global->flag("debug").ok() && *global->flag("debug");
  ctx.global.log = global->get("log");
  ctx.global.logFormat = global->get("log-format", "text");
  ctx.global.root = global->get("root", vc::kDefaultRoot);
  ctx.global.kataConfig = global->get("kata-config");
  ctx.global.rootless = global->has("rootless") && global->get("rootless") == "true";
  ctx.global.systemdCgroup = global->has("systemd-cgroup");
  if (global->has("kata-config") && ctx.global.kataConfig.empty()) return fail("--kata-config: empty path");
  auto format = log::parseFormat(ctx.global.logFormat);
  if (!format.ok()) {
    (void)log::init(lo);
    return fail(format.error().message);
  }
  lo.format = *format;
  lo.path = ctx.global.log;
  lo.level = ctx.global.debug ? log::Level::Debug : log::Level::Info;
  if (ctx.global.debug && lo.path.empty()) lo.fd = 2;
  if (auto st = log::init(lo); !st.ok()) {
    lo.path.clear();
    (void)log::init(lo);
    return fail(st.error().str());
  }
  if (global->has("kata-show-default-config-paths")) {
    for (const auto& p : config::defaultPaths()) printf("%s\n", p.c_str());
    return 0;
  }
  if (global->has("version")) return kVersionCommand.run(ctx).value();
  if (i >= args.size() || global->has("help")) {
    printUsage(i >= args.size() && !global->has("help") ? stderr : stdout);
    return global->has("help") ? 0 : 1;
  }
  const std::string name = args[i++];
  const Command* cmd = nullptr;
  for (const auto& c : commands())
    if (name == c.name) cmd = &c;
  if (!cmd) {
    fprintf(stderr, "kata-runtime: no such command \"%s\"\n", printable(name).c_str());
    printUsage(stderr);
    log::error("no such command \"" + name + "\"");
    return 1;
  }
  std::vector<FlagSpec> flags = cmd->flags;
  flags.push_back({{"help", "h"}, false, "show help"});
  auto parsed = parseArgs({args.begin() + long(i), args.end()}, flags, cmd->stopAtPositional);
  if (!parsed.ok()) {
    fprintf(stderr, "Incorrect Usage: %s\n\n", printable(parsed.error().message).c_str());
    printCommandUsage(*cmd);
    log::error(std::string(cmd->name) + ": " + parsed.error().message);
    return 1;
  }
  if (parsed->has("help") && !cmd->stopAtPositional) {
    printCommandUsage(*cmd);
    return 0;
  }
  ctx.args = std::move(parsed).value();
  log::debug("command", {{"command", cmd->name}});
  auto result = cmd->run(ctx);
  if (!result.ok()) return fail(result.error().str());
  return *result;
}

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      kCreateCommand, kDeleteCommand, kEventsCommand, kExecCommand,  kKataCheckCommand,
      kKataEnvCommand, kKillCommand,  kListCommand,   kPauseCommand, kPsCommand,
      kResumeCommand, kRunCommand,    kSpecCommand,   kStartCommand, kStateCommand,
      kUpdateCommand, kVersionCommand};
  return table;
}

}  // namespace kata::cli
