#include "lib/config.h"

#include <fnmatch.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "lib/fs_util.h"

namespace kata::config {

namespace {

constexpr size_t kMaxConfigBytes = 1 << 20;

struct Problem {
  uint32_t line = 0;  // 0 = unknown
  std::string key;    // dotted
  std::string what;
};

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s.substr(0, 200)) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      out += '?';
      continue;
    }
    out += c;
  }
  if (s.size() > 200) out += "...";
  return out + "\"";
}

// How a value looks in an error: strings quoted, numbers and booleans as written.
std::string describe(const toml::node& node) {
  if (auto s = node.as_string()) return quote(s->get());
  if (auto i = node.as_integer()) return std::to_string(i->get());
  if (auto f = node.as_floating_point()) {
    std::ostringstream os;
    os << f->get();
    return os.str();
  }
  if (auto b = node.as_boolean()) return b->get() ? "true" : "false";
  if (node.is_array()) return "an array";
  if (node.is_table()) return "a table";
  return "a date/time";
}

uint32_t lineOf(const toml::node& node) { return node.source().begin.line; }

size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); j++) prev[j] = j;
  for (size_t i = 1; i <= a.size(); i++) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); j++) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// Binds the keys of one TOML table to struct fields, collecting every problem: wrong types,
// values out of range or not in the allowed set, and keys nobody bound (typos).
class SectionParser {
 public:
  SectionParser(const toml::table& table, std::string dotted, std::vector<Problem>& problems)
      : table_(table), dotted_(std::move(dotted)), problems_(problems) {}

  void string(const char* key, std::string& out, std::vector<const char*> allowed = {}) {
    const toml::node* node = find(key);
    if (!node) return;
    auto s = node->as_string();
    if (!s) return fail(*node, key, "expected string, got " + describe(*node));
    if (!allowed.empty() && std::none_of(allowed.begin(), allowed.end(),
                                         [&](const char* a) { return s->get() == a; })) {
      std::string list;
      for (const char* a : allowed) list += (list.empty() ? "" : ", ") + quote(a);
      return fail(*node, key, "expected one of " + list + ", got " + quote(s->get()));
    }
    out = s->get();
  }

  // A string that must be an absolute path when set.
  void path(const char* key, std::string& out) {
    std::string value = out;
    string(key, value);
    const toml::node* node = find(key);
    if (node && node->is_string() && !value.empty() && value[0] != '/')
      return fail(*node, key, "expected an absolute path, got " + quote(value));
    out = value;
  }

  void boolean(const char* key, bool& out) {
    const toml::node* node = find(key);
    if (!node) return;
    auto b = node->as_boolean();
    if (!b) return fail(*node, key, "expected boolean, got " + describe(*node));
    out = b->get();
  }

  template <class T>
  void integer(const char* key, T& out, int64_t min, int64_t max) {
    const toml::node* node = find(key);
    if (!node) return;
    auto i = node->as_integer();
    if (!i || i->get() < min || i->get() > max) {
      return fail(*node, key,
                  "expected integer " + std::to_string(min) + ".." + std::to_string(max) +
                      ", got " + describe(*node));
    }
    out = static_cast<T>(i->get());
  }

  void strings(const char* key, std::vector<std::string>& out) {
    const toml::node* node = find(key);
    if (!node) return;
    auto array = node->as_array();
    if (!array) return fail(*node, key, "expected array of strings, got " + describe(*node));
    std::vector<std::string> values;
    for (size_t i = 0; i < array->size(); i++) {
      auto s = (*array)[i].as_string();
      if (!s) {
        return fail((*array)[i], std::string(key) + "[" + std::to_string(i) + "]",
                    "expected string, got " + describe((*array)[i]));
      }
      values.push_back(s->get());
    }
    out = std::move(values);
  }

  // A key of a feature kata-cpp does not offer: accepted only with `off`, the value that says
  // what happens here (feature off, or upstream's default when that is our behaviour); any
  // other value is refused with `reason`, so that no setting is silently ignored.
  template <class T>
  void inert(const char* key, const T& off, const char* reason) {
    const toml::node* node = find(key);
    if (!node) return;
    T value = off;
    size_t before = problems_.size();
    bind(key, value);
    if (problems_.size() == before && !(value == off))
      fail(*node, key, std::string("not supported by kata-cpp: ") + reason);
  }
  void inert(const char* key, const char* off, const char* reason) {
    inert(key, std::string(off), reason);
  }

  // Refuses `key`'s value `value` unless it is empty, `patterns` is empty or one of the glob
  // patterns of `listKey` matches it (as upstream's valid_*_paths, shell globs over paths).
  void allowedBy(const char* key, const std::string& value, const char* listKey,
                 const std::vector<std::string>& patterns) {
    if (value.empty() || patterns.empty()) return;
    for (const auto& p : patterns) {
      if (fnmatch(p.c_str(), value.c_str(), FNM_PATHNAME) == 0) return;
    }
    const toml::node* node = table_.get(key);
    if (!node) node = table_.get(listKey);
    if (!node) return;  // both came from the defaults
    fail(*node, key, quote(value) + " matches none of " + listKey);
  }

  // Reports every key of the table that no binding asked for.
  void rejectUnknownKeys() {
    for (auto&& [key, node] : table_) {
      std::string name(key.str());
      if (known_.count(name)) continue;
      std::string what = "unknown key";
      std::string best;
      size_t bestDistance = 3;
      for (const auto& k : known_) {
        size_t d = editDistance(name, k);
        if (d < bestDistance) {
          bestDistance = d;
          best = k;
        }
      }
      if (!best.empty()) what += " (did you mean " + best + "?)";
      problems_.push_back({key.source().begin.line, dotted_ + "." + name, what});
    }
  }

  void bind(const char* key, bool& v) { boolean(key, v); }
  void bind(const char* key, int64_t& v) { integer(key, v, INT64_MIN, INT64_MAX); }
  void bind(const char* key, std::string& v) { string(key, v); }
  void bind(const char* key, std::vector<std::string>& v) { strings(key, v); }

  void fail(const toml::node& node, const std::string& key, std::string what) {
    problems_.push_back({lineOf(node), dotted_ + "." + key, std::move(what)});
  }

 private:
  const toml::node* find(const char* key) {
    known_.insert(key);
    return table_.get(key);
  }

  const toml::table& table_;
  std::string dotted_;
  std::vector<Problem>& problems_;
  std::set<std::string> known_;
};

// Reasons for the keys of features kata-cpp does not offer (SectionParser::inert).
constexpr const char* kNoHotplug = "PCI hotplug is not offered (no bridges are added)";
constexpr const char* kNoBlockDevices =
    "no block devices are passed to the guest: container root filesystems and volumes always "
    "go through the shared file system";
constexpr const char* kNoVhostUserStore = "vhost-user block devices are not offered";
constexpr const char* kNoVfio = "VFIO device passthrough is not offered";
constexpr const char* kNoTracing = "tracing is not offered";
constexpr const char* kNoNetmon = "kata-netmon does not exist yet (issue 23)";
constexpr const char* kNoFactory = "the VM factory is not implemented yet (issue 24)";

void parseQemu(SectionParser& p, QemuConfig& q) {
  p.path("path", q.path);
  p.path("kernel", q.kernel);
  p.path("initrd", q.initrd);
  p.path("image", q.image);
  // The runtime builds PCI devices (virtio-serial-pci, virtio-rng-pci, ...): no microvm.
  p.string("machine_type", q.machine_type, {"pc", "q35"});
  p.string("kernel_params", q.kernel_params);
  p.path("firmware", q.firmware);
  p.string("machine_accelerators", q.machine_accelerators);
  p.string("cpu_features", q.cpu_features);
  p.integer("default_vcpus", q.default_vcpus, 1, 240);
  p.integer("default_maxvcpus", q.default_maxvcpus, 0, 240);
  p.inert("default_bridges", int64_t{0}, kNoHotplug);
  p.integer("default_memory", q.default_memory, 64, 1 << 22);
  p.integer("memory_slots", q.memory_slots, 0, 256);
  p.inert("memory_offset", int64_t{0}, "memory hotplug is not offered");
  p.inert("disable_block_device_use", true, kNoBlockDevices);
  p.boolean("disable_image_nvdimm", q.disable_image_nvdimm);
  p.string("shared_fs", q.shared_fs, {"virtio-9p", "virtio-fs"});
  p.path("virtio_fs_daemon", q.virtio_fs_daemon);
  p.strings("valid_virtio_fs_daemon_paths", q.valid_virtio_fs_daemon_paths);
  p.integer("virtio_fs_cache_size", q.virtio_fs_cache_size, 0, 1 << 20);
  p.strings("virtio_fs_extra_args", q.virtio_fs_extra_args);
  p.string("virtio_fs_cache", q.virtio_fs_cache, {"none", "auto", "always"});
  p.inert("block_device_driver", "virtio-scsi", kNoBlockDevices);
  p.inert("block_device_cache_set", false, kNoBlockDevices);
  p.inert("block_device_cache_direct", false, kNoBlockDevices);
  p.inert("block_device_cache_noflush", false, kNoBlockDevices);
  p.inert("enable_iothreads", false, kNoBlockDevices);
  p.boolean("enable_mem_prealloc", q.enable_mem_prealloc);
  p.boolean("enable_hugepages", q.enable_hugepages);
  p.path("file_mem_backend", q.file_mem_backend);
  p.strings("valid_file_mem_backends", q.valid_file_mem_backends);
  // Upstream's defaults of the store's two path keys say nothing while the store is off.
  p.inert("enable_vhost_user_store", false, kNoVhostUserStore);
  p.inert("vhost_user_store_path", "/var/run/kata-containers/vhost-user", kNoVhostUserStore);
  p.inert("valid_vhost_user_store_paths",
          std::vector<std::string>{"/var/run/kata-containers/vhost-user"}, kNoVhostUserStore);
  p.inert("enable_swap", false, "swap devices for containers are not offered (no block hotplug)");
  p.boolean("enable_debug", q.enable_debug);
  p.inert("disable_nesting_checks", true, "the runtime makes no nesting checks");
  p.integer("msize_9p", q.msize_9p, 4096, 1048576);
  p.inert("use_vsock", false, "the agent is reached over virtio-serial and kata-proxy only");
  p.inert("hotplug_vfio_on_root_bus", false, kNoVfio);
  p.inert("pcie_root_port", int64_t{0}, kNoVfio);
  p.inert("disable_vhost_net", true,
          "the VM's NICs use QEMU's userspace virtio-net backend; vhost-net is not offered");
  p.path("entropy_source", q.entropy_source);
  p.strings("valid_entropy_sources", q.valid_entropy_sources);
  p.inert("guest_hook_path", "", "OCI hooks inside the guest are not offered");
  p.inert("pflashes", std::vector<std::string>{}, "QEMU gets no -pflash images");
  p.strings("valid_hypervisor_paths", q.valid_hypervisor_paths);
  p.inert("enable_annotations", std::vector<std::string>{},
          "annotations cannot override the hypervisor configuration");
  p.inert("rx_rate_limiter_max_rate", int64_t{0}, "network rate limiting is not offered");
  p.inert("tx_rate_limiter_max_rate", int64_t{0}, "network rate limiting is not offered");
  p.string("accelerator", q.accelerator, {"auto", "kvm", "tcg"});
  p.string("guest_console", q.guest_console, {"ttyS0", "hvc0"});
  p.boolean("enable_acpi", q.enable_acpi);
  p.integer("tcg_cache_size", q.tcg_cache_size, 4, 1024);
  p.allowedBy("path", q.path, "valid_hypervisor_paths", q.valid_hypervisor_paths);
  p.allowedBy("virtio_fs_daemon", q.virtio_fs_daemon, "valid_virtio_fs_daemon_paths",
              q.valid_virtio_fs_daemon_paths);
  p.allowedBy("entropy_source", q.entropy_source, "valid_entropy_sources", q.valid_entropy_sources);
  p.allowedBy("file_mem_backend", q.file_mem_backend, "valid_file_mem_backends",
              q.valid_file_mem_backends);
}

void parseProxy(SectionParser& p, ProxyConfig& c) {
  p.path("path", c.path);
  p.boolean("enable_debug", c.enable_debug);
}

void parseShim(SectionParser& p, ShimConfig& c) {
  p.path("path", c.path);
  p.boolean("enable_debug", c.enable_debug);
  p.inert("enable_tracing", false, kNoTracing);
}

void parseAgent(SectionParser& p, AgentConfig& c) {
  p.boolean("enable_debug", c.enable_debug);
  p.inert("enable_tracing", false, kNoTracing);
  p.inert("trace_mode", "", kNoTracing);
  p.inert("trace_type", "", kNoTracing);
  p.strings("kernel_modules", c.kernel_modules);
  p.boolean("debug_console_enabled", c.debug_console_enabled);
  p.inert("container_pipe_size", int64_t{0}, "container stdio pipes keep the kernel's size");
  p.integer("dial_timeout", c.dial_timeout, 1, 3600);
}

void parseNetmon(SectionParser& p, NetmonConfig& c) {
  p.inert("enable_netmon", false, kNoNetmon);
  p.path("path", c.path);
  p.inert("enable_debug", false, kNoNetmon);
}

void parseRuntime(SectionParser& p, RuntimeConfig& c) {
  p.boolean("enable_debug", c.enable_debug);
  // Upstream's "macvtap" is not offered: a configuration asking for it is refused here.
  p.string("internetworking_model", c.internetworking_model, {"tcfilter", "none"});
  p.boolean("disable_guest_seccomp", c.disable_guest_seccomp);
  p.inert("disable_new_netns", false,
          "the VM's network is wired in its own network namespace (tcfilter needs one)");
  p.boolean("sandbox_cgroup_only", c.sandbox_cgroup_only);
  p.inert("enable_tracing", false, kNoTracing);
  p.inert("experimental", std::vector<std::string>{}, "there are no experimental features");
  p.inert("enable_pprof", false, "there is no pprof endpoint (a Go runtime feature)");
}

// Upstream's defaults of the factory's two path keys say nothing while the factory is off.
struct NoFields {};
void parseFactory(SectionParser& p, NoFields&) {
  p.inert("enable_template", false, kNoFactory);
  p.inert("template_path", "/run/vc/vm/template", kNoFactory);
  p.inert("vm_cache_number", int64_t{0}, kNoFactory);
  p.inert("vm_cache_endpoint", "/var/run/kata-containers/cache.sock", kNoFactory);
}

// The node as a table, or nullptr with a problem recorded.
const toml::table* tableAt(const toml::node& node, const std::string& dotted,
                           std::vector<Problem>& problems) {
  const toml::table* table = node.as_table();
  if (!table) problems.push_back({lineOf(node), dotted, "expected a table, got " + describe(node)});
  return table;
}

template <class T>
using Binder = std::function<void(SectionParser&, T&)>;

// A flat section such as [runtime].
template <class T>
void section(const toml::table& root, const char* name, T& out, const Binder<T>& bind,
             std::vector<Problem>& problems) {
  const toml::node* node = root.get(name);
  if (!node) return;
  const toml::table* table = tableAt(*node, name, problems);
  if (!table) return;
  SectionParser p(*table, name, problems);
  bind(p, out);
  p.rejectUnknownKeys();
}

// A section with one supported implementation, such as [hypervisor.qemu] or [proxy.kata].
template <class T>
void typedSection(const toml::table& root, const char* name, const char* supported, T& out,
                  const Binder<T>& bind, std::vector<Problem>& problems) {
  const toml::node* node = root.get(name);
  if (!node) return;
  const toml::table* table = tableAt(*node, name, problems);
  if (!table) return;
  for (auto&& [key, value] : *table) {
    std::string sub(key.str());
    std::string dotted = std::string(name) + "." + sub;
    if (sub != supported) {
      problems.push_back({key.source().begin.line, dotted,
                          std::string("unsupported ") + name + " (only [" + name + "." + supported +
                              "] is supported)"});
      continue;
    }
    const toml::table* subTable = tableAt(value, dotted, problems);
    if (!subTable) continue;
    SectionParser p(*subTable, dotted, problems);
    bind(p, out);
    p.rejectUnknownKeys();
  }
}

Error problemError(const std::string& file, const Problem& p) {
  std::string where = file + (p.line ? ":" + std::to_string(p.line) : "");
  return makeError(where + ": " + p.key + ": " + p.what, EINVAL);
}

}  // namespace

Result<Config> parse(std::string_view tomlText, const std::string& fileName) {
  toml::table root;
  try {
    root = toml::parse(tomlText, fileName);
  } catch (const toml::parse_error& e) {
    const auto& begin = e.source().begin;
    // toml++ descriptions can span lines; errors here are one line.
    std::string description(e.description());
    for (char& ch : description) {
      if (ch == '\n' || ch == '\r') ch = ' ';
    }
    return makeError(fileName + ":" + std::to_string(begin.line) + ":" +
                         std::to_string(begin.column) + ": invalid TOML: " + description,
                     EINVAL);
  }
  Config c;
  c.path = fileName;
  std::vector<Problem> problems;
  typedSection<QemuConfig>(root, "hypervisor", "qemu", c.qemu, parseQemu, problems);
  typedSection<ProxyConfig>(root, "proxy", "kata", c.proxy, parseProxy, problems);
  typedSection<ShimConfig>(root, "shim", "kata", c.shim, parseShim, problems);
  typedSection<AgentConfig>(root, "agent", "kata", c.agent, parseAgent, problems);
  section<NetmonConfig>(root, "netmon", c.netmon, parseNetmon, problems);
  section<RuntimeConfig>(root, "runtime", c.runtime, parseRuntime, problems);
  NoFields factory;
  section<NoFields>(root, "factory", factory, parseFactory, problems);
  // Other top-level sections are ignored: a newer file may carry sections we do not know yet.
  if (!problems.empty()) {
    // The first problem in file order is the one a reader fixes first.
    auto first =
        std::min_element(problems.begin(), problems.end(), [](const Problem& a, const Problem& b) {
          return (a.line ? a.line : UINT32_MAX) < (b.line ? b.line : UINT32_MAX);
        });
    return problemError(fileName, *first);
  }

  if (c.qemu.initrd.empty() == c.qemu.image.empty()) {
    return makeError(fileName + ": hypervisor.qemu: " +
                         (c.qemu.initrd.empty() ? std::string("one of initrd or image must be set")
                                                : "initrd and image are mutually exclusive"),
                     EINVAL);
  }
  if (c.qemu.default_maxvcpus != 0 && c.qemu.default_maxvcpus < c.qemu.default_vcpus) {
    return makeError(fileName + ": hypervisor.qemu.default_maxvcpus: " +
                         std::to_string(c.qemu.default_maxvcpus) + " is less than default_vcpus " +
                         std::to_string(c.qemu.default_vcpus),
                     EINVAL);
  }
  if (c.qemu.shared_fs == "virtio-fs" && c.qemu.virtio_fs_daemon.empty()) {
    return makeError(fileName +
                         ": hypervisor.qemu.virtio_fs_daemon: required with shared_fs = "
                         "\"virtio-fs\"",
                     EINVAL);
  }
  return c;
}

std::vector<std::string> defaultPaths() {
  return {"/etc/kata-containers/configuration.toml",
          "/usr/share/defaults/kata-containers/configuration.toml"};
}

Result<Config> load(const std::string& explicitPath) {
  std::vector<std::string> candidates;
  bool chosen = true;  // an explicitly named file must exist; the defaults are tried in order
  if (!explicitPath.empty()) {
    candidates = {explicitPath};
  } else if (const char* env = getenv("KATA_CONF_FILE"); env && *env) {
    candidates = {env};
  } else {
    candidates = defaultPaths();
    chosen = false;
  }
  for (const auto& path : candidates) {
    auto text = readFile(path, kMaxConfigBytes);
    if (!text.ok()) {
      if (text.error().code == ENOENT && !chosen) continue;
      return std::move(text).error().wrap("load configuration");
    }
    return parse(*text, path);
  }
  std::string tried;
  for (const auto& p : candidates) tried += (tried.empty() ? "" : ", ") + p;
  return makeError("no configuration file found (tried " + tried + ")", ENOENT);
}

}  // namespace kata::config
