// kata-runtime's command table and the context every verb receives. Each verb lives in its own
// file (runtime/cli/<verb>.cc), parses its flags and calls one library function.
#pragma once

#include <string>
#include <vector>

#include "lib/config.h"
#include "lib/result.h"
#include "runtime/cli/args.h"
#include "runtime/virtcontainers/lifecycle.h"

namespace kata::cli {

struct GlobalOptions {
  bool debug = false;
  std::string log;  // --log file
  std::string logFormat = "text";
  std::string root = vc::kDefaultRoot;
  std::string kataConfig;
  bool rootless = false;
  bool systemdCgroup = false;
};

struct Context {
  GlobalOptions global;
  ParsedArgs args;  // the verb's own flags and arguments
  /// Loads configuration.toml (lookup order of --kata-config, KATA_CONF_FILE, /etc, /usr/share).
  Result<vc::RuntimeContext> runtime() const;
};

/// A verb returns the process exit status, or an Error (exit 1, logged and printed).
using VerbFn = Result<int> (*)(Context&);

struct Command {
  const char* name;
  const char* usage;  // "create [command options] <container-id>"
  const char* summary;
  std::vector<FlagSpec> flags;
  VerbFn run;
  bool stopAtPositional = false;  // flags end at the first argument (exec's command line)
};

const std::vector<Command>& commands();

/// Requires exactly `n` positional arguments, naming them in the error ("container id").
Status expectArgs(const Context& ctx, size_t n, const char* what);

/// runc's --preserve-fds (create, run, exec). Host file descriptors cannot cross into the VM,
/// so only 0 is accepted; anything else fails before the VM is touched.
extern const FlagSpec kPreserveFdsFlag;
Status checkPreserveFds(const Context& ctx);
/// The whole CLI: global flags, dispatch, logging of errors. Returns the exit status.
int runCli(int argc, char** argv);

// Verbs (one file each).
extern const Command kCreateCommand, kStartCommand, kRunCommand, kExecCommand, kKillCommand,
    kDeleteCommand, kStateCommand, kListCommand, kPauseCommand, kResumeCommand, kSpecCommand,
    kVersionCommand, kKataEnvCommand, kKataCheckCommand, kPsCommand, kUpdateCommand,
    kEventsCommand;

}  // namespace kata::cli
