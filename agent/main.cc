// kata-agent: the guest's init and the Kata agent API server. See agent/agent.h.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "agent/agent.h"
#include "agent/options.h"
#include "lib/version.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto options = kata::agent::parseArgs(args);
  if (!options.ok()) {
    std::fprintf(stderr, "kata-agent: %s\n", options.error().str().c_str());
    // As the VM's init we must not exit (the kernel would panic): carry on with defaults.
    if (::getpid() != 1) return 2;
    options = kata::agent::AgentOptions{};
  }
  if (options->showVersion) {
    std::printf("kata-agent version %s (commit %s)\n", kata::kVersion, kata::kCommit);
    return 0;
  }
  return kata::agent::runAgent(*options);
}
