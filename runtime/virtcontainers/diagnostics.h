// What `kata-runtime kata-env` reports and what `kata-runtime kata-check` verifies about the
// host, from real probes (binaries run for their versions, /proc, /sys, /dev/kvm).
#pragma once

#include <json/json.h>

#include <string>
#include <vector>

#include "lib/config.h"

namespace kata::vc {

/// The kata-env report (upstream's sections and keys, plus Hypervisor.Accelerator).
Json::Value environmentReport(const config::Config& config, const std::string& runtimePath);

struct HostCheck {
  enum Level { Pass, Warn, Fail };
  Level level = Pass;
  std::string name;    // "CPU virtualisation", "QEMU", ...
  std::string detail;  // what was found
};

/// Every host check; a VM can run when none is Fail.
std::vector<HostCheck> hostChecks(const config::Config& config);

}  // namespace kata::vc
