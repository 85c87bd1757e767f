// containerd-shim-kata-v2: parses the command line and runs one action.
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "lib/printable.h"
#include "runtime/containerd-shim-v2/bootstrap.h"
#include "runtime/containerd-shim-v2/options.h"
#include "runtime/containerd-shim-v2/serve.h"
#include "runtime/containerd-shim-v2/task_service.h"

namespace {

using namespace kata;
using namespace kata::shimv2;

std::string currentDir() {
  char buf[4096];
  return ::getcwd(buf, sizeof buf) ? std::string(buf) : std::string();
}

int64_t nowNanos() {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

Status run(const Options& options) {
  switch (options.action) {
    case Action::Version:
      std::cout << versionLine() << "\n";
      return okStatus();
    case Action::Help:
      std::cout << usage();
      return okStatus();
    case Action::Start: {
      KATA_ASSIGN_OR_RETURN(std::string address, startShim(options));
      std::cout << address << std::flush;  // containerd reads the whole output as the address
      return okStatus();
    }
    case Action::Delete: {
      KATA_TRY(initShimLog(options));
      KATA_TRY(cleanupAfterDeadShim(options, options.bundle));
      std::cout << deleteResponse(nowNanos()) << std::flush;
      return okStatus();
    }
    case Action::Serve:
      return serve(options);
  }
  return okStatus();
}

}  // namespace

int main(int argc, char** argv) {
  const char* ttrpc = std::getenv("TTRPC_ADDRESS");
  auto options = parseOptions(std::vector<std::string>(argv + 1, argv + argc), currentDir(),
                              ttrpc ? ttrpc : "");
  Status st = options.ok() ? run(*options) : Status(options.error());
  if (!st.ok()) {
    std::cerr << "containerd-shim-kata-v2: " << printable(st.error().str()) << "\n";
    return 1;
  }
  return 0;
}
