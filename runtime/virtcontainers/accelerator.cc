#include "runtime/virtcontainers/accelerator.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <fstream>
#include <sstream>

#include "lib/unique_fd.h"

namespace kata::vc {

AcceleratorProbe probeAccelerator(const std::string& cpuinfoPath, const std::string& kvmPath) {
  AcceleratorProbe p;
  std::ifstream in(cpuinfoPath);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    std::string w;
    while (words >> w) {
      if (w == "vmx" || w == "svm") {
        p.cpuHasVirtualization = true;
        p.cpuFlag = w;
      }
    }
    break;  // every CPU lists the same flags
  }
  UniqueFd kvm(open(kvmPath.c_str(), O_RDWR | O_CLOEXEC));
  if (!kvm) {
    p.kvmError = "cannot open " + kvmPath + ": " + strerror(errno);
  } else {
    int version = ioctl(kvm.get(), KVM_GET_API_VERSION, 0);
    if (version == KVM_API_VERSION) {
      p.kvmDeviceOpens = true;
    } else {
      p.kvmError = kvmPath + " answers KVM API version " + std::to_string(version);
    }
  }
  if (!p.cpuHasVirtualization && p.kvmError.empty())
    p.kvmError = "the CPU advertises neither vmx nor svm (nested virtualisation unavailable)";
  return p;
}

Result<std::string> chooseAccelerator(const std::string& configured, const AcceleratorProbe& p) {
  if (configured == "tcg") return std::string("tcg");
  if (configured == "kvm") {
    if (!p.kvmUsable()) return makeError("accelerator \"kvm\" requested but KVM is unusable: " +
                                         p.kvmError, ENODEV);
    return std::string("kvm");
  }
  if (configured == "auto" || configured.empty()) return std::string(p.kvmUsable() ? "kvm" : "tcg");
  return makeError("unknown accelerator \"" + configured + "\" (want auto, kvm or tcg)", EINVAL);
}

}  // namespace kata::vc
