// containerd-shim-kata-v2's command line, as containerd 1.6 gives it (runtime/v2/shim/util.go,
// binary.go), in Go's flag syntax (lib/go_flags.h):
//   containerd-shim-kata-v2 -namespace NS -address ADDR -publish-binary BIN -id ID [-debug]
//       [-bundle DIR] [-socket PATH] [start | delete]
// `start` finds or starts the pod's shim and prints its address; `delete` cleans up after a
// dead shim; no action serves the task API (the daemon `start` launches). `-v`/`--version`
// prints the version.
#pragma once

#include <string>
#include <vector>

#include "lib/result.h"

namespace kata::shimv2 {

enum class Action { Serve, Start, Delete, Version, Help };

struct Options {
  std::string ns;       // -namespace: containerd namespace ("default", "k8s.io")
  std::string address;  // -address: containerd's gRPC socket
  std::string publishBinary = "containerd";  // -publish-binary: runs `publish` for events
  std::string id;                            // -id: the task (container) id
  std::string bundle;                        // -bundle: defaults to the working directory
  std::string socket;                        // -socket: serve this path instead of fd 3
  std::string ttrpcAddress;                  // $TTRPC_ADDRESS: containerd's ttrpc socket
  bool debug = false;                        // -debug: log at debug level
  Action action = Action::Serve;
};

/// Parses argv without argv[0]. `cwd` is the default bundle, `ttrpcAddress` the value of
/// $TTRPC_ADDRESS. Errors are one line naming the flag or argument: unknown flags, missing
/// values, a missing -namespace, -address or -id, an invalid id, an unknown action.
Result<Options> parseOptions(const std::vector<std::string>& args, const std::string& cwd,
                             const std::string& ttrpcAddress = "");

/// The flags that make another invocation of the shim act on the same task (the daemon
/// `start` launches gets these and no action).
std::vector<std::string> toArgs(const Options& options);

/// The -h text.
std::string usage();

/// "containerd-shim-kata-v2 version 1.12.0 (commit abc)".
std::string versionLine();

}  // namespace kata::shimv2
