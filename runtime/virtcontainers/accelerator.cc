#include "runtime/virtcontainers/accelerator.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <time.h>
#include <x86intrin.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "lib/unique_fd.h"

namespace kata::vc {
namespace {

// The words of the first "flags" line of a /proc/cpuinfo-style file.
std::vector<std::string> cpuFlags(const std::string& cpuinfoPath) {
  std::ifstream in(cpuinfoPath);
  std::string line;
  std::vector<std::string> flags;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    std::string w;
    while (words >> w) flags.push_back(w);
    break;  // every CPU lists the same flags
  }
  return flags;
}

bool hasFlag(const std::vector<std::string>& flags, const char* flag) {
  for (const auto& f : flags)
    if (f == flag) return true;
  return false;
}

// One reading of CLOCK_MONOTONIC_RAW (ns) and the TSC at the same moment: the TSC is read
// before and after the clock, and of a few tries the tightest pair is kept, so that a
// preemption between the reads does not skew it.
struct ClockPair {
  int64_t ns;
  uint64_t tsc;
};

ClockPair readClockPair() {
  ClockPair best{0, 0};
  uint64_t bestSpan = UINT64_MAX;
  for (int i = 0; i < 8; ++i) {
    timespec ts{};
    uint64_t before = __rdtsc();
    clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
    uint64_t after = __rdtsc();
    if (after - before < bestSpan) {
      bestSpan = after - before;
      best = {int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec, before + (after - before) / 2};
    }
  }
  return best;
}

}  // namespace

long measureHostTscKhz(const std::string& cpuinfoPath) {
  const auto flags = cpuFlags(cpuinfoPath);
  if (!hasFlag(flags, "constant_tsc") || !hasFlag(flags, "nonstop_tsc")) return 0;
  ClockPair start = readClockPair();
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ClockPair end = readClockPair();
  if (end.ns <= start.ns || end.tsc <= start.tsc) return 0;
  // cycles per ms; 10 ms with ~50 ns of reading error is within 10 ppm.
  return long(double(end.tsc - start.tsc) * 1e6 / double(end.ns - start.ns) + 0.5);
}

AcceleratorProbe probeAccelerator(const std::string& cpuinfoPath, const std::string& kvmPath) {
  AcceleratorProbe p;
  for (const auto& w : cpuFlags(cpuinfoPath)) {
    if (w == "vmx" || w == "svm") {
      p.cpuHasVirtualization = true;
      p.cpuFlag = w;
    }
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
    if (!p.kvmUsable())
      return makeError("accelerator \"kvm\" requested but KVM is unusable: " + p.kvmError, ENODEV);
    return std::string("kvm");
  }
  if (configured == "auto" || configured.empty()) return std::string(p.kvmUsable() ? "kvm" : "tcg");
  return makeError("unknown accelerator \"" + configured + "\" (want auto, kvm or tcg)", EINVAL);
}

}  // namespace kata::vc
