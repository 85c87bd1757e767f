// kata-shim: stands in for one container process on the host (see shim/shim.h).
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "lib/log.h"
#include "lib/printable.h"
#include "lib/version.h"
#include "shim/oom_relay.h"
#include "shim/options.h"
#include "shim/shim.h"
#include "shim/shim_log.h"
#include "shim/signals.h"

int main(int argc, char** argv) {
  using namespace kata::shim;
  // The OOM relay's helper (oom_relay.h): this binary again, single-threaded.
  if (argc == 3 && std::string(argv[1]) == "-oom-notify-cgroup") return notifyOomHelper(argv[2]);
  // Before anything can start a thread: every thread must inherit the blocked mask, so that
  // forwarded signals reach only the signal thread's signalfd.
  auto blocked = blockForwardedSignals();
  if (!blocked) {
    std::fprintf(stderr, "kata-shim: %s\n", blocked.error().str().c_str());
    return kExitAgentLost;
  }

  auto inv = parseArgs(std::vector<std::string>(argv + 1, argv + argc));
  if (!inv) {
    std::fprintf(stderr, "kata-shim: %s\nRun 'kata-shim -help' for usage.\n",
                 inv.error().str().c_str());
    return 2;  // Go's flag package exits 2 on bad usage
  }
  if (inv->action == Action::Help) {
    std::fputs(usage().c_str(), stdout);
    return 0;
  }
  if (inv->action == Action::Version) {
    std::printf("kata-shim version %s (commit %s)\n", kata::kVersion, kata::kCommit);
    return 0;
  }
  const Options& opts = inv->options;
  if (auto st = initShimLog(opts); !st) {
    // The operator asked for a log file: say once why there is none, then carry on.
    std::fprintf(stderr, "kata-shim: %s\n", st.error().str().c_str());
  }
  kata::log::info("kata-shim started", {{"agent", opts.agent.str()},
                                        {"terminal", opts.terminal ? "true" : "false"},
                                        {"version", kata::kVersion}});
  if (opts.trace) kata::log::warn("tracing is not supported, -trace ignored");

  ShimConfig config;
  config.container = opts.container;
  config.execId = opts.execId;
  config.terminal = opts.terminal;
  config.proxyExitCode = opts.proxyExitCode;
  config.forwardedSignals = *blocked;
  config.startupPagesFile = "/proc/self/exe";
  for (const auto& [fd, name] : opts.watchPidfds) config.watched.push_back({fd, name});
  if (opts.oomRelay && opts.execId == opts.container) config.relayOom = relayOom;
  AgentUrl url = opts.agent;
  Shim shim(std::move(config), [url] { return dialAgent(url); });
  int code = shim.run();
  if (std::string err = shim.fatalError(); !err.empty()) {
    // stderr is the container's: the user sees why the process's output or status is missing.
    // The reason may quote the agent: no control bytes of its own reach the terminal.
    std::fprintf(stderr, "kata-shim: %s\n", kata::printable(err).c_str());
  }
  kata::log::info("kata-shim exiting", {{"exit-code", std::to_string(code)}});
  // run() has joined every thread and restored the terminal; skip static destructors, which
  // would race gRPC's own background threads at exit.
  std::fflush(stdout);
  ::_exit(code);
}
