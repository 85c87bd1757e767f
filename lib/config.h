// The runtime configuration (configuration.toml), with the sections and keys of Kata 1.x plus
// our documented additions. Parsing is strict: wrong types, out-of-range numbers, unknown enum
// values and unknown keys inside known sections are errors naming the file, line and dotted key:
//   /etc/kata-containers/configuration.toml:12: hypervisor.qemu.default_vcpus: expected integer
//   1..240, got "two"
// Keys of features kata-cpp does not offer have no field: they are accepted only with the value
// that describes what happens (feature off), and refused otherwise:
//   ...:40: runtime.enable_tracing: not supported by kata-cpp: tracing is not offered
// Unknown top-level sections are ignored so that newer files still load.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lib/result.h"

namespace kata::config {

/// [hypervisor.qemu]; the only hypervisor supported.
struct QemuConfig {
  std::string path = "/usr/bin/qemu-system-x86_64";
  std::string kernel = "/usr/share/kata-containers/vmlinux.container";
  std::string initrd;  // one of initrd / image must be set
  std::string image;
  std::string machine_type = "pc";  // "pc", "q35", "microvm", ...
  std::string kernel_params;        // appended to the kernel command line
  std::string firmware;
  std::string machine_accelerators;     // extra -machine options, comma separated
  std::string cpu_features;             // extra -cpu features, comma separated
  int default_vcpus = 1;                // 1..240
  int default_maxvcpus = 0;             // 0 = number of host CPUs; 0..240
  int default_memory = 2048;            // MiB (the shipped template sets 512)
  int memory_slots = 10;                // hotplug slots; 0..256
  bool disable_image_nvdimm = false;    // image over virtio-blk instead of nvdimm/DAX
  std::string shared_fs = "virtio-9p";  // "virtio-9p" | "virtio-fs"
  std::string virtio_fs_daemon = "/usr/lib/qemu/virtiofsd";
  std::vector<std::string> valid_virtio_fs_daemon_paths;  // globs virtio_fs_daemon must match
  int virtio_fs_cache_size = 0;                           // DAX window, MiB; 0 disables DAX
  std::vector<std::string> virtio_fs_extra_args;
  std::string virtio_fs_cache = "auto";  // "none" | "auto" | "always"
  bool enable_mem_prealloc = false;
  bool enable_hugepages = false;
  std::string file_mem_backend;
  std::vector<std::string> valid_file_mem_backends;  // globs file_mem_backend must match
  bool enable_debug = false;
  uint32_t msize_9p = 8192;  // 4096..1048576
  std::string entropy_source = "/dev/urandom";
  std::vector<std::string> valid_entropy_sources;   // globs entropy_source must match
  std::vector<std::string> valid_hypervisor_paths;  // globs path must match
  // Our additions.
  std::string accelerator = "auto";  // "auto" (KVM when usable, else TCG) | "kvm" | "tcg"
  // Console the guest kernel logs to. Debian's kernel builds virtio_console as a module, so
  // hvc0 only exists once the agent has loaded it; ttyS0 works from the first line.
  std::string guest_console = "ttyS0";  // "ttyS0" | "hvc0"
  // ACPI tables for the guest. Without them the guest boots about 0.3 s faster under TCG
  // (no bytecode interpreter, no NFIT) and the root image is a virtio-pmem device instead of
  // an nvdimm; vCPU and DIMM hotplug (not offered yet) would need them.
  bool enable_acpi = false;
  // MiB of translated code QEMU keeps under TCG (its tb-size); no effect with KVM.
  int tcg_cache_size = 32;
};

/// [proxy.kata]
struct ProxyConfig {
  std::string path = "/usr/libexec/kata-containers/kata-proxy";
  bool enable_debug = false;
};

/// [shim.kata]
struct ShimConfig {
  std::string path = "/usr/libexec/kata-containers/kata-shim";
  bool enable_debug = false;
};

/// [agent.kata]
struct AgentConfig {
  bool enable_debug = false;
  std::vector<std::string> kernel_modules;  // "name [param=value ...]"
  bool debug_console_enabled = false;
  // Our addition: seconds the runtime waits for the agent to answer after starting the VM.
  // Generous by default because a TCG boot on a loaded machine can take tens of seconds.
  int dial_timeout = 90;  // 1..3600
};

/// [netmon]
struct NetmonConfig {
  std::string path = "/usr/libexec/kata-containers/kata-netmon";
};

/// [runtime]
struct RuntimeConfig {
  bool enable_debug = false;
  std::string internetworking_model = "tcfilter";  // "tcfilter" | "none"
  bool disable_guest_seccomp = true;               // true: linux.seccomp is not sent to the agent
  bool sandbox_cgroup_only = false;
};

struct Config {
  std::string path;  // the file this configuration was read from ("" for built-in defaults)
  QemuConfig qemu;
  ProxyConfig proxy;
  ShimConfig shim;
  AgentConfig agent;
  NetmonConfig netmon;
  RuntimeConfig runtime;
};

/// Parses TOML text; `fileName` is used in errors and stored in Config::path.
Result<Config> parse(std::string_view tomlText, const std::string& fileName);

/// Reads and parses the configuration file: `explicitPath` (from --kata-config) when not empty,
/// else $KATA_CONF_FILE, else the first existing of defaultPaths(). The error lists every path
/// tried when none exists.
Result<Config> load(const std::string& explicitPath = "");

/// /etc/kata-containers/configuration.toml, /usr/share/defaults/kata-containers/configuration.toml
std::vector<std::string> defaultPaths();

}  // namespace kata::config
