// kata-proxy: parses the command line and runs the proxy (proxy/proxy.h).
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "lib/capped_file.h"
#include "lib/log.h"
#include "proxy/console.h"
#include "proxy/options.h"
#include "proxy/proxy.h"

int main(int argc, char** argv) {
  using namespace kata;
  auto options = proxy::parseOptions(std::vector<std::string>(argv + 1, argv + argc));
  if (!options) {
    std::fprintf(stderr, "kata-proxy: %s\n", options.error().message.c_str());
    return 2;
  }
  if (options->version) {
    std::printf("%s\n", proxy::versionLine().c_str());
    return 0;
  }
  if (const char* path = std::getenv(proxy::kConsoleLogEnv)) options->consoleLog = path;
  if (const char* path = std::getenv(proxy::kVirtiofsdLogEnv)) options->virtiofsdLog = path;
  log::Options lo;
  lo.name = "kata-proxy";
  lo.source = "proxy";
  lo.level = options->logLevel;
  lo.maxFileBytes = kGuestLogMaxBytes;  // stderr is proxy.log, which relays guest lines
  if (!options->sandbox.empty()) lo.fields.emplace_back("sandbox", options->sandbox);
  (void)log::init(lo);  // stderr: cannot fail

  proxy::Proxy p(*options);
  auto code = p.run();
  if (!code) {
    log::error(code.error().str());
    return 1;
  }
  return *code;
}
