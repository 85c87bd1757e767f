// Which accelerator QEMU should use on this host. /dev/kvm can exist and open on hosts that
// cannot run a real guest with it (e.g. a VM whose CPU hides vmx/svm but exposes a paravirtual
// KVM): KVM counts as usable only when the CPU advertises vmx or svm AND /dev/kvm answers the
// KVM API, otherwise QEMU runs with TCG.
#pragma once

#include <string>

#include "lib/result.h"

namespace kata::vc {

struct AcceleratorProbe {
  bool cpuHasVirtualization = false;  // vmx or svm in /proc/cpuinfo
  std::string cpuFlag;                // "vmx", "svm" or ""
  bool kvmDeviceOpens = false;        // open("/dev/kvm") and KVM_GET_API_VERSION == 12
  std::string kvmError;               // why /dev/kvm is not usable, when it is not
  bool kvmUsable() const { return cpuHasVirtualization && kvmDeviceOpens; }
};

/// Inspects the host. `cpuinfoPath` and `kvmPath` are parameters for tests.
AcceleratorProbe probeAccelerator(const std::string& cpuinfoPath = "/proc/cpuinfo",
                                  const std::string& kvmPath = "/dev/kvm");

/// The host's TSC rate in kHz, measured against CLOCK_MONOTONIC_RAW over about 10 ms, or 0
/// when `cpuinfoPath` does not list both constant_tsc and nonstop_tsc (a TSC whose rate
/// changes has no rate to tell). Under TCG the guest reads the host's TSC, and a guest
/// without ACPI has no HPET or PM timer to calibrate it against: it is told this rate
/// (tsc_early_khz=) instead of falling back to a jiffies clock.
long measureHostTscKhz(const std::string& cpuinfoPath = "/proc/cpuinfo");

/// Resolves the configured accelerator ("auto", "kvm", "tcg") against the probe: "kvm" or
/// "tcg". Asking for "kvm" on a host where it is unusable is an error naming the reason.
Result<std::string> chooseAccelerator(const std::string& configured, const AcceleratorProbe& p);

}  // namespace kata::vc
