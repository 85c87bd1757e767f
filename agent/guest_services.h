// Guest-wide services of the agent API: CPU and memory hotplug, clock, entropy, guest details
// and CopyFile. Every file root and the clock setter are injectable so that host tests point
// them at temporary trees instead of the host's /sys, /dev/random and clock.
#pragma once

#include <sys/time.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "lib/result.h"

namespace grpc {
class OnlineCPUMemRequest;
class GuestDetailsRequest;
class GuestDetailsResponse;
class CopyFileRequest;
}  // namespace grpc

namespace kata::agent {

struct GuestServiceOptions {
  /// The agent is the VM's init: the whole guest is ours to change.
  bool guestMode = false;
  /// Where sysfs is ("/sys"); CPUs and memory blocks are under devices/system/.
  std::string sysfsRoot = "/sys";
  /// Where host entropy is written.
  std::string randomDevice = "/dev/random";
  /// CopyFile writes only below this directory.
  std::string copyRoot = "/run/kata-containers/shared/containers";
  /// Sets the clock; settimeofday(2) when empty (guest mode only).
  std::function<Status(const timeval&)> setClock;
  /// Host test mode may use the hotplug/entropy RPCs only when these roots were redirected.
  bool sysfsRedirected = false;
  bool randomRedirected = false;
  /// CPU onlining retries (hot-added vCPUs show up asynchronously).
  int onlineRetries = 50;
  int onlineRetryMs = 100;
};

class GuestServices {
 public:
  explicit GuestServices(GuestServiceOptions options) : o_(std::move(options)) {}

  /// Onlines hot-added CPUs (until `nb_cpus` were brought online, retrying while they appear
  /// when `wait`) and, unless `cpu_only`, every offline memory block.
  Status onlineCpuMem(const grpc::OnlineCPUMemRequest& req);
  /// After CPUs came online the cpuset hierarchy's root lists them: copies its cpuset.cpus
  /// into every level of each of `cgroupPaths` (parents first), so that containers without
  /// their own CPU list can use the new CPUs. Missing directories are skipped.
  Status widenCpusets(const std::vector<std::string>& cgroupPaths);
  /// Announces hot-added memory at each physical address through devices/system/memory/probe.
  Status memHotplugByProbe(const std::vector<uint64_t>& addresses);
  Status setDateTime(int64_t sec, int64_t usec);
  /// Mixes `data` into the kernel's entropy pool (no entropy credit is claimed).
  Status reseedRandom(const std::string& data);
  void guestDetails(const grpc::GuestDetailsRequest& req, grpc::GuestDetailsResponse* resp);
  /// Writes one chunk of a host file: into "<path>.tmp" at `offset`; when the file reached
  /// `file_size` it gets its owner and mode and is renamed to `path` (readers never see a
  /// partial file). `path` must lie below copyRoot; symlinks cannot lead out of it.
  Status copyFile(const grpc::CopyFileRequest& req);

 private:
  std::string sysPath(const std::string& rel) const { return o_.sysfsRoot + "/" + rel; }
  Status requireGuest(const char* what, bool redirected) const;
  Result<int> onlineCpus(uint32_t wanted, bool wait);
  Status onlineMemory();

  GuestServiceOptions o_;
};

}  // namespace kata::agent
