#include "runtime/virtcontainers/accelerator.h"

#include <cstdlib>
#include <fstream>

#include "lib/temp_dir.h"

#include <CppUTest/TestHarness.h>

using kata::vc::AcceleratorProbe;

TEST_GROUP(Accelerator){};

TEST(Accelerator, NoVirtualisationFlagMeansTcgEvenWithKvmDevice) {
  auto dir = kata::TempDir::create("accel");
  CHECK_TRUE(dir.ok());
  std::string cpuinfo = dir->path() + "/cpuinfo";
  std::ofstream(cpuinfo) << "processor\t: 0\nflags\t\t: fpu sse2 hypervisor\n";
  AcceleratorProbe p = kata::vc::probeAccelerator(cpuinfo, "/dev/null");
  CHECK_FALSE(p.cpuHasVirtualization);
  CHECK_FALSE(p.kvmUsable());
  STRCMP_EQUAL("tcg", kata::vc::chooseAccelerator("auto", p)->c_str());
  auto forced = kata::vc::chooseAccelerator("kvm", p);
  CHECK_FALSE(forced.ok());
  CHECK_TRUE(forced.error().message.find("KVM is unusable") != std::string::npos);
}

TEST(Accelerator, FlagWithoutWorkingDeviceIsNotUsable) {
  auto dir = kata::TempDir::create("accel");
  std::string cpuinfo = dir->path() + "/cpuinfo";
  std::ofstream(cpuinfo) << "flags\t\t: fpu vmx sse2\n";
  // /dev/null opens but does not answer KVM_GET_API_VERSION.
  AcceleratorProbe p = kata::vc::probeAccelerator(cpuinfo, "/dev/null");
  CHECK_TRUE(p.cpuHasVirtualization);
  STRCMP_EQUAL("vmx", p.cpuFlag.c_str());
  CHECK_FALSE(p.kvmDeviceOpens);
  STRCMP_EQUAL("tcg", kata::vc::chooseAccelerator("auto", p)->c_str());
}

TEST(Accelerator, UsableKvmIsPreferredAndTcgForceable) {
  AcceleratorProbe p;
  p.cpuHasVirtualization = true;
  p.kvmDeviceOpens = true;
  STRCMP_EQUAL("kvm", kata::vc::chooseAccelerator("auto", p)->c_str());
  STRCMP_EQUAL("tcg", kata::vc::chooseAccelerator("tcg", p)->c_str());
  CHECK_FALSE(kata::vc::chooseAccelerator("xen", p).ok());
}

TEST(Accelerator, HostTscRateIsMeasuredOnlyForAnInvariantTsc) {
  auto dir = kata::TempDir::create("accel");
  std::string cpuinfo = dir->path() + "/cpuinfo";
  std::ofstream(cpuinfo) << "flags\t\t: fpu tsc constant_tsc sse2\n";  // no nonstop_tsc
  LONGS_EQUAL(0, kata::vc::measureHostTscKhz(cpuinfo));
  std::ofstream(cpuinfo) << "flags\t\t: fpu tsc constant_tsc nonstop_tsc sse2\n";
  long first = kata::vc::measureHostTscKhz(cpuinfo);
  long second = kata::vc::measureHostTscKhz(cpuinfo);
  // x86 TSCs tick between a few hundred MHz and a few GHz, and two measurements of an
  // invariant TSC agree to well within 0.5% (10 ms windows; a wrong clock pairing would not).
  CHECK_TRUE(first > 100000 && first < 10000000);
  CHECK_TRUE(std::labs(first - second) * 200 < first);
}
