#include "shim/shim_log.h"

#include <cstdlib>

#include "lib/capped_file.h"
#include "lib/log.h"

namespace kata::shim {

Status initShimLog(const Options& options) {
  log::Options lo;
  lo.name = "kata-shim";
  lo.source = "shim";
  lo.level = options.logLevel;
  lo.format = log::Format::Text;
  lo.fd = -1;        // stderr belongs to the container
  lo.syslog = true;  // used only when /dev/log exists
  lo.maxFileBytes = kGuestLogMaxBytes;  // its lines quote the agent's errors
  lo.fields = {{"container", options.container}, {"exec-id", options.execId}};
  const char* file = std::getenv(kLogFileEnv);
  if (file != nullptr) lo.path = file;
  Status st = log::init(lo);
  if (st.ok() || lo.path.empty()) return st;
  // Keep logging to syslog (if any) rather than not at all.
  Error err = std::move(st).error();
  lo.path.clear();
  (void)log::init(lo);
  return std::move(err).wrap(kLogFileEnv);
}

}  // namespace kata::shim
