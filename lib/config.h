// The runtime configuration (configuration.toml), with the sections and keys of Kata 1.x plus
// our documented additions. Parsing is strict: wrong types, out-of-range numbers, unknown enum
// values and unknown keys inside known sections are errors naming the file, line and dotted key:
//   /etc/kata-containers/configuration.toml:12: hypervisor.qemu.default_vcpus: expected integer
//   1..240, got "two"
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
  std::string machine_accelerators;  // extra -machine options, comma separated
  std::string cpu_features;          // extra -cpu features, comma separated
  int default_vcpus = 1;             // 1..240
  int default_maxvcpus = 0;          // 0 = number of host CPUs; 0..240
  int default_bridges = 1;           // PCI bridges for hotplug; 0..5
  int default_memory = 2048;         // MiB (the shipped template sets 512)
  int memory_slots = 10;             // hotplug slots; 0..256
  uint64_t memory_offset = 0;        // MiB added to the maximum memory
  bool disable_block_device_use = false;
  bool disable_image_nvdimm = false;  // image over virtio-blk instead of nvdimm/DAX
  std::string shared_fs = "virtio-9p";  // "virtio-9p" | "virtio-fs"
  std::string virtio_fs_daemon = "/usr/lib/qemu/virtiofsd";
  std::vector<std::string> valid_virtio_fs_daemon_paths;
  int virtio_fs_cache_size = 0;  // DAX window, MiB; 0 disables DAX
  std::vector<std::string> virtio_fs_extra_args;
  std::string virtio_fs_cache = "auto";             // "none" | "auto" | "always"
  std::string block_device_driver = "virtio-scsi";  // "virtio-scsi" | "virtio-blk" | "nvdimm"
  bool block_device_cache_set = false;
  bool block_device_cache_direct = false;
  bool block_device_cache_noflush = false;
  bool enable_iothreads = false;
  bool enable_mem_prealloc = false;
  bool enable_hugepages = false;
  std::string file_mem_backend;
  std::vector<std::string> valid_file_mem_backends;
  bool enable_vhost_user_store = false;
  std::string vhost_user_store_path;
  std::vector<std::string> valid_vhost_user_store_paths;
  bool enable_swap = false;
  bool enable_debug = false;
  bool disable_nesting_checks = false;
  uint32_t msize_9p = 8192;  // 4096..1048576
  bool use_vsock = false;
  bool hotplug_vfio_on_root_bus = false;
  int pcie_root_port = 0;  // 0..16
  bool disable_vhost_net = false;
  std::string entropy_source = "/dev/urandom";
  std::vector<std::string> valid_entropy_sources;
  std::string guest_hook_path;
  std::vector<std::string> pflashes;
  std::vector<std::string> valid_hypervisor_paths;
  std::vector<std::string> enable_annotations;
  uint64_t rx_rate_limiter_max_rate = 0;
  uint64_t tx_rate_limiter_max_rate = 0;
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
  bool enable_tracing = false;
};

/// [agent.kata]
struct AgentConfig {
  bool enable_debug = false;
  bool enable_tracing = false;
  std::string trace_mode;                   // "" | "dynamic" | "static"
  std::string trace_type;                   // "" | "isolated" | "collated"
  std::vector<std::string> kernel_modules;  // "name [param=value ...]"
  bool debug_console_enabled = false;
  uint32_t container_pipe_size = 0;
  // Our addition: seconds the runtime waits for the agent to answer after starting the VM.
  // Generous by default because a TCG boot on a loaded machine can take tens of seconds.
  int dial_timeout = 90;  // 1..3600
};

/// [netmon]
struct NetmonConfig {
  bool enable_netmon = false;
  std::string path = "/usr/libexec/kata-containers/kata-netmon";
  bool enable_debug = false;
};

/// [runtime]
struct RuntimeConfig {
  bool enable_debug = false;
  std::string internetworking_model = "tcfilter";  // "tcfilter" | "none"
  bool disable_guest_seccomp = true;
  bool disable_new_netns = false;
  bool sandbox_cgroup_only = false;
  bool enable_tracing = false;
  std::vector<std::string> experimental;
  bool enable_pprof = false;
};

/// [factory]
struct FactoryConfig {
  bool enable_template = false;
  std::string template_path = "/run/vc/vm/template";
  uint32_t vm_cache_number = 0;
  std::string vm_cache_endpoint = "/var/run/kata-containers/cache.sock";
};

struct Config {
  std::string path;  // the file this configuration was read from ("" for built-in defaults)
  QemuConfig qemu;
  ProxyConfig proxy;
  ShimConfig shim;
  AgentConfig agent;
  NetmonConfig netmon;
  RuntimeConfig runtime;
  FactoryConfig factory;
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
