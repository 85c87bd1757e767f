#include "runtime/virtcontainers/diagnostics.h"

#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>

#include "lib/child_process.h"
#include "lib/fs_util.h"
#include "lib/version.h"
#include "runtime/virtcontainers/accelerator.h"

namespace kata::vc {
namespace {

std::string firstLine(const std::string& s) { return s.substr(0, s.find('\n')); }

// The first line a component prints for its version flag, or "" when it cannot run.
std::string componentVersion(const std::string& path, const char* flag) {
  auto out = runCommand({path, flag}, 10);
  return out.ok() ? firstLine(*out) : "";
}

std::string osRelease(const std::string& key) {
  std::ifstream in("/etc/os-release");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + "=", 0) != 0) continue;
    std::string v = line.substr(key.size() + 1);
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    return v;
  }
  return "";
}

std::string cpuinfoField(const std::string& key) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) != 0) continue;
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string v = line.substr(colon + 1);
    return v.erase(0, v.find_first_not_of(" \t"));
  }
  return "";
}

bool exists(const std::string& p) {
  struct stat st;
  return !p.empty() && stat(p.c_str(), &st) == 0;
}

bool moduleLoaded(const std::string& name) { return exists("/sys/module/" + name); }

}  // namespace

Json::Value environmentReport(const config::Config& c, const std::string& runtimePath) {
  Json::Value r(Json::objectValue);
  r["Meta"]["Version"] = "1.0.26";

  Json::Value& rt = r["Runtime"];
  rt["Debug"] = c.runtime.enable_debug;
  // Keys kata-cpp accepts only with their off value (lib/config.cc) report that value.
  rt["Trace"] = false;
  rt["DisableGuestSeccomp"] = c.runtime.disable_guest_seccomp;
  rt["DisableNewNetNs"] = false;
  rt["SandboxCgroupOnly"] = c.runtime.sandbox_cgroup_only;
  rt["Experimental"] = Json::Value(Json::arrayValue);
  rt["Path"] = runtimePath;
  rt["Version"]["OCI"] = kOciSpecVersion;
  Json::Value& ver = rt["Version"]["Version"];
  ver["Semver"] = kVersion;
  int major = 0, minor = 0, patch = 0;
  sscanf(kVersion, "%d.%d.%d", &major, &minor, &patch);
  ver["Major"] = major;
  ver["Minor"] = minor;
  ver["Patch"] = patch;
  ver["Commit"] = kCommit;
  rt["Config"]["Path"] = c.path;

  const AcceleratorProbe probe = probeAccelerator();
  auto accel = chooseAccelerator(c.qemu.accelerator, probe);
  Json::Value& hv = r["Hypervisor"];
  hv["MachineType"] = c.qemu.machine_type;
  hv["Version"] = componentVersion(c.qemu.path, "--version");
  hv["Path"] = c.qemu.path;
  hv["BlockDeviceDriver"] = "virtio-scsi";
  hv["EntropySource"] = c.qemu.entropy_source;
  hv["SharedFS"] = c.qemu.shared_fs;
  hv["VirtioFSDaemon"] = c.qemu.virtio_fs_daemon;
  hv["Msize9p"] = c.qemu.msize_9p;
  hv["MemorySlots"] = c.qemu.memory_slots;
  hv["PCIeRootPort"] = 0;
  hv["HotplugVFIOOnRootBus"] = false;
  hv["Debug"] = c.qemu.enable_debug;
  hv["UseVSock"] = false;
  hv["ACPI"] = c.qemu.enable_acpi;
  hv["Accelerator"] = accel.ok() ? *accel : "unusable: " + accel.error().message;

  r["Image"]["Path"] = c.qemu.image;
  r["Kernel"]["Path"] = c.qemu.kernel;
  r["Kernel"]["Parameters"] = c.qemu.kernel_params;
  r["Initrd"]["Path"] = c.qemu.initrd;

  r["Proxy"]["Type"] = "kataProxy";
  r["Proxy"]["Version"] = componentVersion(c.proxy.path, "-version");
  r["Proxy"]["Path"] = c.proxy.path;
  r["Proxy"]["Debug"] = c.proxy.enable_debug;
  r["Shim"]["Type"] = "kataShim";
  r["Shim"]["Version"] = componentVersion(c.shim.path, "-version");
  r["Shim"]["Path"] = c.shim.path;
  r["Shim"]["Debug"] = c.shim.enable_debug;
  // containerd finds the shim v2 on its PATH; it is installed beside kata-runtime.
  const std::string shimV2 =
      runtimePath.substr(0, runtimePath.rfind('/') + 1) + "containerd-shim-kata-v2";
  r["ShimV2"]["Path"] = exists(shimV2) ? shimV2 : "";
  r["ShimV2"]["Version"] = exists(shimV2) ? componentVersion(shimV2, "--version") : "";
  r["Agent"]["Type"] = "kata";
  r["Agent"]["Debug"] = c.agent.enable_debug;
  r["Agent"]["Trace"] = false;
  r["Agent"]["TraceMode"] = "";
  r["Agent"]["TraceType"] = "";

  struct utsname u;
  uname(&u);
  Json::Value& host = r["Host"];
  host["Kernel"] = u.release;
  host["Architecture"] = u.machine == std::string("x86_64") ? "amd64" : u.machine;
  host["VMContainerCapable"] = accel.ok() && exists(c.qemu.path);
  host["SupportVSocks"] = exists("/dev/vhost-vsock");
  host["Distro"]["Name"] = osRelease("NAME");
  host["Distro"]["Version"] = osRelease("VERSION_ID");
  host["CPU"]["Vendor"] = cpuinfoField("vendor_id");
  host["CPU"]["Model"] = cpuinfoField("model name");

  r["Netmon"]["Version"] = componentVersion(c.netmon.path, "-version");
  r["Netmon"]["Path"] = c.netmon.path;
  r["Netmon"]["Debug"] = false;
  r["Netmon"]["Enable"] = false;
  return r;
}

std::vector<HostCheck> hostChecks(const config::Config& c) {
  std::vector<HostCheck> out;
  const AcceleratorProbe p = probeAccelerator();
  out.push_back(
      {p.cpuHasVirtualization ? HostCheck::Pass : HostCheck::Warn, "CPU virtualisation",
       p.cpuHasVirtualization ? "CPU has " + p.cpuFlag : "CPU advertises neither vmx nor svm"});
  out.push_back({p.kvmUsable() ? HostCheck::Pass : HostCheck::Warn, "KVM",
                 p.kvmUsable() ? "/dev/kvm can run guests" : "KVM unusable: " + p.kvmError});
  if (p.kvmUsable()) {
    const char* vendorModule = p.cpuFlag == "vmx" ? "kvm_intel" : "kvm_amd";
    for (const char* m : {"kvm", vendorModule})
      out.push_back({moduleLoaded(m) ? HostCheck::Pass : HostCheck::Fail,
                     std::string("kernel module ") + m, moduleLoaded(m) ? "loaded" : "not loaded"});
  }
  for (const char* m : {"vhost", "vhost_net"})
    out.push_back({moduleLoaded(m) ? HostCheck::Pass : HostCheck::Warn,
                   std::string("kernel module ") + m,
                   moduleLoaded(m) ? "loaded (not used yet: NICs are plain taps)"
                                   : "not loaded (not used yet: NICs are plain taps)"});
  out.push_back({exists("/dev/vhost-vsock") ? HostCheck::Pass : HostCheck::Warn, "vsock",
                 exists("/dev/vhost-vsock") ? "/dev/vhost-vsock present"
                                            : "no /dev/vhost-vsock: the agent is reached "
                                              "through kata-proxy over virtio-serial"});
  auto accel = chooseAccelerator(c.qemu.accelerator, p);
  out.push_back(
      {accel.ok() ? (*accel == "kvm" ? HostCheck::Pass : HostCheck::Warn) : HostCheck::Fail,
       "accelerator",
       accel.ok() ? (*accel == "kvm" ? "KVM will be used"
                                     : "TCG (software emulation) will be used: "
                                       "containers work but VMs boot slower")
                  : accel.error().message});
  std::string qemuVersion = componentVersion(c.qemu.path, "--version");
  out.push_back({qemuVersion.empty() ? HostCheck::Fail : HostCheck::Pass, "QEMU",
                 qemuVersion.empty() ? c.qemu.path + " does not run" : qemuVersion});
  const std::string rootAsset = c.qemu.initrd.empty() ? c.qemu.image : c.qemu.initrd;
  for (const auto& [name, path] : std::vector<std::pair<std::string, std::string>>{
           {"guest kernel", c.qemu.kernel},
           {c.qemu.initrd.empty() ? "guest image" : "guest initrd", rootAsset},
           {"kata-proxy", c.proxy.path},
           {"kata-shim", c.shim.path}}) {
    out.push_back({exists(path) ? HostCheck::Pass : HostCheck::Fail, name,
                   exists(path) ? path : path + " is missing"});
  }
  for (const char* tool : {"/usr/sbin/ip", "/sbin/ip"}) {
    if (exists(tool)) {
      out.push_back({HostCheck::Pass, "iproute2", tool});
      break;
    }
  }
  return out;
}

}  // namespace kata::vc
