#include "lib/config.h"

#include <stdlib.h>

#include <regex>
#include <set>
#include <string>

#include "lib/fs_util.h"
#include "lib/temp_dir.h"

// CppUTest comes last: its leak-detection macros break standard headers.
#include <CppUTest/TestHarness.h>

using namespace kata;
namespace cfg = kata::config;

namespace {

const char* kFile = "/etc/kata-containers/configuration.toml";

std::string minimal(const std::string& extraQemu = "") {
  return "[hypervisor.qemu]\n"
         "path = \"/usr/bin/qemu-system-x86_64\"\n"
         "kernel = \"/k/vmlinuz\"\n"
         "initrd = \"/k/initrd\"\n" +
         extraQemu;
}

std::string errorOf(const std::string& toml) {
  auto r = cfg::parse(toml, kFile);
  if (r.ok()) return "(parsed fine)";
  return r.error().message;
}

std::string renderTemplate() {
  auto text = readFile(std::string(KATA_SOURCE_DIR) + "/configuration.toml.in", 1 << 20);
  CHECK(text.ok());
  std::string s = *text;
  const std::pair<const char*, const char*> subs[] = {
      {"@QEMUPATH@", "/usr/bin/qemu-system-x86_64"},
      {"@KERNELPATH@", "/usr/share/kata-containers/vmlinux.container"},
      {"@INITRDPATH@", "/usr/share/kata-containers/kata-containers-initrd.img"},
      {"@IMAGEPATH@", "/usr/share/kata-containers/kata-containers.img"},
      {"@PROXYPATH@", "/usr/libexec/kata-containers/kata-proxy"},
      {"@SHIMPATH@", "/usr/libexec/kata-containers/kata-shim"},
      {"@NETMONPATH@", "/usr/libexec/kata-containers/kata-netmon"},
      {"@DEFAULTMEMORY@", "512"},
  };
  for (const auto& [from, to] : subs) {
    size_t pos;
    while ((pos = s.find(from)) != std::string::npos) s.replace(pos, strlen(from), to);
  }
  return s;
}

}  // namespace

TEST_GROUP(Config){};

TEST(Config, TemplateUsesOnlyKnownPlaceholders) {
  auto text = readFile(std::string(KATA_SOURCE_DIR) + "/configuration.toml.in", 1 << 20);
  CHECK(text.ok());
  std::set<std::string> known = {"@QEMUPATH@",  "@KERNELPATH@", "@INITRDPATH@", "@IMAGEPATH@",
                                 "@PROXYPATH@", "@SHIMPATH@",   "@NETMONPATH@", "@DEFAULTMEMORY@"};
  std::regex placeholder("@[A-Z_]+@");
  for (auto it = std::sregex_iterator(text->begin(), text->end(), placeholder);
       it != std::sregex_iterator(); ++it) {
    CHECK_TEXT(known.count(it->str()), it->str().c_str());
  }
}

TEST(Config, RenderedTemplateParsesWithOurDefaults) {
  auto r = cfg::parse(renderTemplate(), "configuration.toml");
  if (!r.ok()) FAIL(r.error().message.c_str());
  const cfg::Config& c = *r;
  STRCMP_EQUAL("configuration.toml", c.path.c_str());
  STRCMP_EQUAL("/usr/bin/qemu-system-x86_64", c.qemu.path.c_str());
  STRCMP_EQUAL("/usr/share/kata-containers/vmlinux.container", c.qemu.kernel.c_str());
  STRCMP_EQUAL("/usr/share/kata-containers/kata-containers.img", c.qemu.image.c_str());
  CHECK(c.qemu.initrd.empty());
  CHECK_FALSE(c.qemu.disable_image_nvdimm);
  CHECK_FALSE(c.qemu.enable_acpi);
  STRCMP_EQUAL("pc", c.qemu.machine_type.c_str());
  LONGS_EQUAL(512, c.qemu.default_memory);
  LONGS_EQUAL(1, c.qemu.default_vcpus);
  STRCMP_EQUAL("virtio-9p", c.qemu.shared_fs.c_str());
  STRCMP_EQUAL("auto", c.qemu.accelerator.c_str());
  STRCMP_EQUAL("ttyS0", c.qemu.guest_console.c_str());
  LONGS_EQUAL(32, c.qemu.tcg_cache_size);
  LONGS_EQUAL(8192, c.qemu.msize_9p);
  STRCMP_EQUAL("/usr/libexec/kata-containers/kata-proxy", c.proxy.path.c_str());
  STRCMP_EQUAL("/usr/libexec/kata-containers/kata-shim", c.shim.path.c_str());
  STRCMP_EQUAL("/usr/libexec/kata-containers/kata-netmon", c.netmon.path.c_str());
  LONGS_EQUAL(90, c.agent.dial_timeout);
  STRCMP_EQUAL("tcfilter", c.runtime.internetworking_model.c_str());
  CHECK_FALSE(c.runtime.disable_guest_seccomp);  // the template has the guest apply seccomp
}

TEST(Config, RenderedTemplateMentionsEveryKeyWeParse) {
  // Every key is meant to be documented in the template (set, with a comment above it).
  std::string t = renderTemplate();
  for (const char* key : {"accelerator",
                          "guest_console",
                          "tcg_cache_size",
                          "enable_acpi",
                          "dial_timeout",
                          "valid_hypervisor_paths",
                          "entropy_source",
                          "msize_9p",
                          "enable_hugepages",
                          "enable_mem_prealloc",
                          "virtio_fs_cache",
                          "virtio_fs_extra_args",
                          "virtio_fs_cache_size",
                          "valid_virtio_fs_daemon_paths",
                          "virtio_fs_daemon",
                          "shared_fs",
                          "disable_image_nvdimm",
                          "memory_slots",
                          "default_memory",
                          "default_maxvcpus",
                          "default_vcpus",
                          "cpu_features",
                          "machine_accelerators",
                          "firmware",
                          "kernel_params",
                          "machine_type",
                          "kernel_modules",
                          "debug_console_enabled",
                          "internetworking_model",
                          "disable_guest_seccomp",
                          "sandbox_cgroup_only",
                          "valid_entropy_sources",
                          "valid_file_mem_backends"}) {
    CHECK_TEXT(t.find(std::string("\n") + key + " = ") != std::string::npos, key);
  }
}

TEST(Config, MinimalFileGetsCodeDefaults) {
  auto r = cfg::parse(minimal(), kFile);
  CHECK(r.ok());
  LONGS_EQUAL(2048, r->qemu.default_memory);
  LONGS_EQUAL(1, r->qemu.default_vcpus);
  STRCMP_EQUAL("auto", r->qemu.accelerator.c_str());
  LONGS_EQUAL(90, r->agent.dial_timeout);
  STRCMP_EQUAL("tcfilter", r->runtime.internetworking_model.c_str());
}

TEST(Config, AllSectionsAndTypes) {
  auto r = cfg::parse(minimal("default_vcpus = 2\nkernel_params = \"quiet\"\n"
                              "valid_hypervisor_paths = [\"/usr/bin/qemu-*\"]\n"
                              "accelerator = \"tcg\"\nguest_console = \"hvc0\"\n") +
                          "[proxy.kata]\nenable_debug = true\n"
                          "[shim.kata]\nenable_debug = true\n"
                          "[agent.kata]\nkernel_modules = [\"e1000e InterruptThrottleRate=3000\"]\n"
                          "dial_timeout = 300\n"
                          "[netmon]\npath = \"/x/kata-netmon\"\n"
                          "[runtime]\ndisable_guest_seccomp = false\ninternetworking_model = "
                          "\"none\"\n"
                          "[factory]\nenable_template = false\n",
                      kFile);
  if (!r.ok()) FAIL(r.error().message.c_str());
  LONGS_EQUAL(2, r->qemu.default_vcpus);
  STRCMP_EQUAL("quiet", r->qemu.kernel_params.c_str());
  STRCMP_EQUAL("/usr/bin/qemu-*", r->qemu.valid_hypervisor_paths.at(0).c_str());
  STRCMP_EQUAL("tcg", r->qemu.accelerator.c_str());
  STRCMP_EQUAL("hvc0", r->qemu.guest_console.c_str());
  CHECK(r->proxy.enable_debug);
  CHECK(r->shim.enable_debug);
  STRCMP_EQUAL("e1000e InterruptThrottleRate=3000", r->agent.kernel_modules.at(0).c_str());
  LONGS_EQUAL(300, r->agent.dial_timeout);
  STRCMP_EQUAL("/x/kata-netmon", r->netmon.path.c_str());
  CHECK_FALSE(r->runtime.disable_guest_seccomp);
  STRCMP_EQUAL("none", r->runtime.internetworking_model.c_str());
}

// Keys of features kata-cpp does not offer: accepted with the value that says what happens
// here, refused with any other, naming the file, line and key.
TEST(Config, UnofferedFeaturesAreRefusedUnlessOff) {
  struct Case {
    const char* section;
    const char* off;  // "key = value" that parses
    const char* on;   // "key = value" that is refused
  };
  const Case cases[] = {
      {"hypervisor.qemu", "default_bridges = 0", "default_bridges = 1"},
      {"hypervisor.qemu", "memory_offset = 0", "memory_offset = 1024"},
      {"hypervisor.qemu", "disable_block_device_use = true", "disable_block_device_use = false"},
      {"hypervisor.qemu", "block_device_driver = \"virtio-scsi\"",
       "block_device_driver = \"virtio-blk\""},
      {"hypervisor.qemu", "block_device_cache_set = false", "block_device_cache_set = true"},
      {"hypervisor.qemu", "block_device_cache_direct = false", "block_device_cache_direct = true"},
      {"hypervisor.qemu", "block_device_cache_noflush = false",
       "block_device_cache_noflush = true"},
      {"hypervisor.qemu", "enable_iothreads = false", "enable_iothreads = true"},
      {"hypervisor.qemu", "enable_vhost_user_store = false", "enable_vhost_user_store = true"},
      {"hypervisor.qemu", "vhost_user_store_path = \"/var/run/kata-containers/vhost-user\"",
       "vhost_user_store_path = \"/srv/vhost\""},
      {"hypervisor.qemu",
       "valid_vhost_user_store_paths = [\"/var/run/kata-containers/vhost-user\"]",
       "valid_vhost_user_store_paths = []"},
      {"hypervisor.qemu", "enable_swap = false", "enable_swap = true"},
      {"hypervisor.qemu", "disable_nesting_checks = true", "disable_nesting_checks = false"},
      {"hypervisor.qemu", "use_vsock = false", "use_vsock = true"},
      {"hypervisor.qemu", "hotplug_vfio_on_root_bus = false", "hotplug_vfio_on_root_bus = true"},
      {"hypervisor.qemu", "pcie_root_port = 0", "pcie_root_port = 2"},
      {"hypervisor.qemu", "disable_vhost_net = true", "disable_vhost_net = false"},
      {"hypervisor.qemu", "guest_hook_path = \"\"", "guest_hook_path = \"/usr/share/oci/hooks\""},
      {"hypervisor.qemu", "pflashes = []", "pflashes = [\"/a\"]"},
      {"hypervisor.qemu", "enable_annotations = []", "enable_annotations = [\"kernel_params\"]"},
      {"hypervisor.qemu", "rx_rate_limiter_max_rate = 0", "rx_rate_limiter_max_rate = 1000"},
      {"hypervisor.qemu", "tx_rate_limiter_max_rate = 0", "tx_rate_limiter_max_rate = -1"},
      {"shim.kata", "enable_tracing = false", "enable_tracing = true"},
      {"agent.kata", "enable_tracing = false", "enable_tracing = true"},
      {"agent.kata", "trace_mode = \"\"", "trace_mode = \"dynamic\""},
      {"agent.kata", "trace_type = \"\"", "trace_type = \"isolated\""},
      {"agent.kata", "container_pipe_size = 0", "container_pipe_size = 65536"},
      {"netmon", "enable_netmon = false", "enable_netmon = true"},
      {"netmon", "enable_debug = false", "enable_debug = true"},
      {"runtime", "disable_new_netns = false", "disable_new_netns = true"},
      {"runtime", "enable_tracing = false", "enable_tracing = true"},
      {"runtime", "experimental = []", "experimental = [\"newstore\"]"},
      {"runtime", "enable_pprof = false", "enable_pprof = true"},
      {"factory", "enable_template = false", "enable_template = true"},
      {"factory", "template_path = \"/run/vc/vm/template\"", "template_path = \"/tmp/t\""},
      {"factory", "vm_cache_number = 0", "vm_cache_number = 3"},
      {"factory", "vm_cache_endpoint = \"/var/run/kata-containers/cache.sock\"",
       "vm_cache_endpoint = \"/run/c.sock\""},
  };
  for (const Case& c : cases) {
    auto withKey = [&](const char* line) {
      std::string s = std::string(c.section) == "hypervisor.qemu"
                          ? minimal(std::string(line) + "\n")
                          : minimal() + "[" + c.section + "]\n" + line + "\n";
      return s;
    };
    auto ok = cfg::parse(withKey(c.off), kFile);
    CHECK_TEXT(ok.ok(), c.off);
    std::string key(c.on, strchr(c.on, ' '));
    int line = std::string(c.section) == "hypervisor.qemu" ? 5 : 6;
    std::string want = std::string(kFile) + ":" + std::to_string(line) + ": " + c.section + "." +
                       key + ": not supported by kata-cpp: ";
    std::string e = errorOf(withKey(c.on));
    CHECK_TEXT(e.rfind(want, 0) == 0 && e.size() > want.size() + 10, e.c_str());
  }
  STRCMP_EQUAL(
      "/etc/kata-containers/configuration.toml:6: factory.enable_template: not supported by "
      "kata-cpp: the VM factory is not implemented yet (issue 24)",
      errorOf(minimal() + "[factory]\nenable_template = true\n").c_str());
  // A wrong type is still a type error, not a refusal.
  CHECK(errorOf(minimal("enable_swap = \"no\"\n")).find("expected boolean") != std::string::npos);
}

// valid_hypervisor_paths, valid_virtio_fs_daemon_paths, valid_entropy_sources and
// valid_file_mem_backends: globs the configured path must match when the list is not empty.
TEST(Config, ValidPathListsRestrictTheConfiguredPaths) {
  CHECK(cfg::parse(minimal("valid_hypervisor_paths = [\"/usr/bin/qemu-system-*\"]\n"), kFile).ok());
  STRCMP_EQUAL(
      "/etc/kata-containers/configuration.toml:2: hypervisor.qemu.path: "
      "\"/usr/bin/qemu-system-x86_64\" matches none of valid_hypervisor_paths",
      errorOf(minimal("valid_hypervisor_paths = [\"/opt/qemu/*\"]\n")).c_str());
  // A '*' does not cross '/', as in upstream's globs.
  CHECK(errorOf(minimal("valid_hypervisor_paths = [\"/usr/*\"]\n"))
            .find("matches none of valid_hypervisor_paths") != std::string::npos);
  CHECK(cfg::parse(minimal("valid_hypervisor_paths = []\n"), kFile).ok());
  // Keys left at their defaults are checked too: the error then points at the list.
  CHECK(errorOf(minimal("valid_virtio_fs_daemon_paths = [\"/opt/virtiofsd\"]\n"))
            .find(":5: hypervisor.qemu.virtio_fs_daemon: \"/usr/lib/qemu/virtiofsd\" matches "
                  "none of valid_virtio_fs_daemon_paths") != std::string::npos);
  CHECK(cfg::parse(minimal("entropy_source = \"/dev/random\"\n"
                           "valid_entropy_sources = [\"/dev/urandom\", \"/dev/random\"]\n"),
                   kFile)
            .ok());
  CHECK(errorOf(minimal("entropy_source = \"/dev/hwrng\"\n"
                        "valid_entropy_sources = [\"/dev/urandom\"]\n"))
            .find(":5: hypervisor.qemu.entropy_source: \"/dev/hwrng\" matches none of "
                  "valid_entropy_sources") != std::string::npos);
  // An unset file_mem_backend needs no match.
  CHECK(cfg::parse(minimal("valid_file_mem_backends = [\"/dev/shm/*\"]\n"), kFile).ok());
  CHECK(cfg::parse(minimal("file_mem_backend = \"/dev/shm/vm\"\n"
                           "valid_file_mem_backends = [\"/dev/shm/*\"]\n"),
                   kFile)
            .ok());
  CHECK(errorOf(minimal("file_mem_backend = \"/tmp/vm\"\n"
                        "valid_file_mem_backends = [\"/dev/shm/*\"]\n"))
            .find("hypervisor.qemu.file_mem_backend: \"/tmp/vm\" matches none of "
                  "valid_file_mem_backends") != std::string::npos);
}

TEST(Config, WrongTypeNamesFileLineKeyAndValue) {
  STRCMP_EQUAL(
      "/etc/kata-containers/configuration.toml:5: hypervisor.qemu.default_vcpus: expected "
      "integer 1..240, got \"two\"",
      errorOf(minimal("default_vcpus = \"two\"\n")).c_str());
  STRCMP_EQUAL(
      "/etc/kata-containers/configuration.toml:5: hypervisor.qemu.use_vsock: expected boolean, "
      "got 1",
      errorOf(minimal("use_vsock = 1\n")).c_str());
  STRCMP_EQUAL(
      "/etc/kata-containers/configuration.toml:5: hypervisor.qemu.machine_type: expected "
      "string, got true",
      errorOf(minimal("machine_type = true\n")).c_str());
  STRCMP_EQUAL(
      "/etc/kata-containers/configuration.toml:5: hypervisor.qemu.pflashes[1]: expected "
      "string, got 3",
      errorOf(minimal("pflashes = [\"/a\", 3]\n")).c_str());
  STRCMP_EQUAL(
      "/etc/kata-containers/configuration.toml:5: hypervisor.qemu.default_memory: expected "
      "integer 64..4194304, got 1.5",
      errorOf(minimal("default_memory = 1.5\n")).c_str());
}

TEST(Config, RangeAndEnumChecks) {
  CHECK(errorOf(minimal("default_vcpus = 0\n"))
            .find("hypervisor.qemu.default_vcpus: expected "
                  "integer 1..240, got 0") != std::string::npos);
  CHECK(errorOf(minimal("msize_9p = 100\n")).find("hypervisor.qemu.msize_9p") != std::string::npos);
  STRCMP_EQUAL(
      "/etc/kata-containers/configuration.toml:5: hypervisor.qemu.shared_fs: expected one of "
      "\"virtio-9p\", \"virtio-fs\", got \"nfs\"",
      errorOf(minimal("shared_fs = \"nfs\"\n")).c_str());
  STRCMP_EQUAL(
      "/etc/kata-containers/configuration.toml:5: hypervisor.qemu.machine_type: expected one "
      "of \"pc\", \"q35\", got \"microvm\"",
      errorOf(minimal("machine_type = \"microvm\"\n")).c_str());
  CHECK(errorOf(minimal("") + "[runtime]\ninternetworking_model = \"macvtap\"\n")
            .find("runtime.internetworking_model: expected one of \"tcfilter\", \"none\"") !=
        std::string::npos);
  CHECK(errorOf(minimal("block_device_driver = \"ide\"\n")).find("block_device_driver") !=
        std::string::npos);
  CHECK(errorOf(minimal("accelerator = \"hvf\"\n")).find("hypervisor.qemu.accelerator") !=
        std::string::npos);
  CHECK(errorOf(minimal("guest_console = \"tty1\"\n")).find("guest_console") != std::string::npos);
  CHECK(errorOf(minimal() + "[agent.kata]\ndial_timeout = 0\n")
            .find("agent.kata.dial_timeout: expected integer 1..3600, got 0") != std::string::npos);
  CHECK(errorOf(minimal() + "[runtime]\ninternetworking_model = \"bridged\"\n")
            .find("runtime.internetworking_model") != std::string::npos);
  CHECK(errorOf(minimal("firmware = \"OVMF.fd\"\n")).find("expected an absolute path") !=
        std::string::npos);
}

TEST(Config, UnknownKeyIsATypoWithSuggestion) {
  STRCMP_EQUAL(
      "/etc/kata-containers/configuration.toml:5: hypervisor.qemu.defualt_vcpus: unknown key "
      "(did you mean default_vcpus?)",
      errorOf(minimal("defualt_vcpus = 2\n")).c_str());
  CHECK(errorOf(minimal() + "[runtime]\nfoo = 1\n").find("runtime.foo: unknown key") !=
        std::string::npos);
}

TEST(Config, FirstProblemInFileOrderIsReported) {
  std::string e = errorOf(minimal("use_vsock = 1\ndefault_vcpus = \"x\"\n"));
  CHECK(e.find(":5: hypervisor.qemu.use_vsock") != std::string::npos);
}

TEST(Config, UnknownSectionsAreIgnoredButOtherHypervisorsAreNot) {
  CHECK(cfg::parse(minimal() + "[future]\nthing = 1\n[image]\nx = \"y\"\n", kFile).ok());
  std::string e = errorOf(minimal() + "[hypervisor.firecracker]\npath = \"/x\"\n");
  CHECK(e.find("hypervisor.firecracker: unsupported hypervisor (only [hypervisor.qemu] is "
               "supported)") != std::string::npos);
  CHECK(errorOf(minimal() + "[proxy.noproxy]\n").find("proxy.noproxy: unsupported proxy") !=
        std::string::npos);
  CHECK(errorOf("runtime = 3\n" + minimal()).find("runtime: expected a table") !=
        std::string::npos);
}

TEST(Config, InitrdAndImageAreExclusive) {
  CHECK(errorOf(minimal("image = \"/k/img\"\n")).find("mutually exclusive") != std::string::npos);
  CHECK(errorOf("[hypervisor.qemu]\nkernel = \"/k\"\n").find("one of initrd or image") !=
        std::string::npos);
  auto img = cfg::parse("[hypervisor.qemu]\nimage = \"/k/img\"\n", kFile);
  CHECK(img.ok());
}

TEST(Config, MaxVcpusBelowVcpusIsRejected) {
  CHECK(errorOf(minimal("default_vcpus = 4\ndefault_maxvcpus = 2\n"))
            .find("hypervisor.qemu.default_maxvcpus") != std::string::npos);
}

TEST(Config, SyntaxErrorHasLineAndColumn) {
  std::string e = errorOf("[runtime]\nenable_debug = tru\n");
  CHECK(e.rfind("/etc/kata-containers/configuration.toml:2:", 0) == 0);
  CHECK(e.find("invalid TOML") != std::string::npos);
  CHECK(e.find('\n') == std::string::npos);
}

TEST_GROUP(ConfigLoad) {
  TempDir dir;
  void setup() override {
    dir = std::move(TempDir::create("config-test-").value());
    unsetenv("KATA_CONF_FILE");
  }
  void teardown() override { unsetenv("KATA_CONF_FILE"); }
};

TEST(ConfigLoad, DefaultPathsInLookupOrder) {
  auto paths = cfg::defaultPaths();
  LONGS_EQUAL(2, paths.size());
  STRCMP_EQUAL("/etc/kata-containers/configuration.toml", paths[0].c_str());
  STRCMP_EQUAL("/usr/share/defaults/kata-containers/configuration.toml", paths[1].c_str());
}

TEST(ConfigLoad, ExplicitPathWinsOverEnvironment) {
  std::string a = dir.path() + "/a.toml", b = dir.path() + "/b.toml";
  CHECK(writeFileAtomic(a, minimal("default_vcpus = 3\n"), 0644).ok());
  CHECK(writeFileAtomic(b, minimal("default_vcpus = 5\n"), 0644).ok());
  setenv("KATA_CONF_FILE", b.c_str(), 1);
  auto fromEnv = cfg::load("");
  CHECK(fromEnv.ok());
  LONGS_EQUAL(5, fromEnv->qemu.default_vcpus);
  STRCMP_EQUAL(b.c_str(), fromEnv->path.c_str());
  auto explicitOne = cfg::load(a);
  CHECK(explicitOne.ok());
  LONGS_EQUAL(3, explicitOne->qemu.default_vcpus);
  STRCMP_EQUAL(a.c_str(), explicitOne->path.c_str());
}

TEST(ConfigLoad, MissingExplicitFileIsAClearError) {
  auto r = cfg::load(dir.path() + "/missing.toml");
  CHECK_FALSE(r.ok());
  LONGS_EQUAL(ENOENT, r.error().code);
  CHECK(r.error().message.find(dir.path() + "/missing.toml") != std::string::npos);
}

TEST(ConfigLoad, ErrorsNameTheLoadedFile) {
  std::string a = dir.path() + "/bad.toml";
  CHECK(writeFileAtomic(a, minimal("default_vcpus = \"two\"\n"), 0644).ok());
  auto r = cfg::load(a);
  CHECK_FALSE(r.ok());
  CHECK(r.error().message.rfind(a + ":5: hypervisor.qemu.default_vcpus", 0) == 0);
}
