// kata-proxy: parses the command line and runs the proxy (proxy/proxy.h).
#include <cstdio>
#include <string>
#include <vector>

#include "lib/log.h"
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
  log::Options lo;
  lo.name = "kata-proxy";
  lo.source = "proxy";
  lo.level = options->logLevel;
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
