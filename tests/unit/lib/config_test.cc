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
  CHECK_FALSE(c.qemu.use_vsock);
  STRCMP_EQUAL("auto", c.qemu.accelerator.c_str());
  STRCMP_EQUAL("ttyS0", c.qemu.guest_console.c_str());
  LONGS_EQUAL(32, c.qemu.tcg_cache_size);
  LONGS_EQUAL(8192, c.qemu.msize_9p);
  STRCMP_EQUAL("virtio-scsi", c.qemu.block_device_driver.c_str());
  STRCMP_EQUAL("/usr/libexec/kata-containers/kata-proxy", c.proxy.path.c_str());
  STRCMP_EQUAL("/usr/libexec/kata-containers/kata-shim", c.shim.path.c_str());
  STRCMP_EQUAL("/usr/libexec/kata-containers/kata-netmon", c.netmon.path.c_str());
  LONGS_EQUAL(90, c.agent.dial_timeout);
  STRCMP_EQUAL("tcfilter", c.runtime.internetworking_model.c_str());
  CHECK_FALSE(c.runtime.disable_guest_seccomp);  // the template has the guest apply seccomp
  CHECK_FALSE(c.factory.enable_template);
}

TEST(Config, RenderedTemplateMentionsEveryKeyWeParse) {
  // Every key is meant to be documented in the template (set, with a comment above it).
  std::string t = renderTemplate();
  for (const char* key : {"accelerator",
                          "guest_console", "tcg_cache_size", "enable_acpi",
                          "dial_timeout",
                          "enable_annotations",
                          "valid_hypervisor_paths",
                          "pflashes",
                          "guest_hook_path",
                          "entropy_source",
                          "disable_vhost_net",
                          "hotplug_vfio_on_root_bus",
                          "use_vsock",
                          "msize_9p",
                          "disable_nesting_checks",
                          "enable_swap",
                          "enable_hugepages",
                          "enable_mem_prealloc",
                          "enable_iothreads",
                          "block_device_driver",
                          "virtio_fs_cache",
                          "virtio_fs_extra_args",
                          "virtio_fs_cache_size",
                          "valid_virtio_fs_daemon_paths",
                          "virtio_fs_daemon",
                          "shared_fs",
                          "disable_block_device_use", "disable_image_nvdimm",
                          "memory_offset",
                          "memory_slots",
                          "default_memory",
                          "default_bridges",
                          "default_maxvcpus",
                          "default_vcpus",
                          "cpu_features",
                          "machine_accelerators",
                          "firmware",
                          "kernel_params",
                          "machine_type",
                          "kernel_modules",
                          "debug_console_enabled",
                          "trace_mode",
                          "trace_type",
                          "enable_netmon",
                          "internetworking_model",
                          "disable_guest_seccomp",
                          "disable_new_netns",
                          "sandbox_cgroup_only",
                          "experimental",
                          "enable_pprof",
                          "enable_template",
                          "template_path",
                          "vm_cache_number",
                          "vm_cache_endpoint",
                          "enable_tracing"}) {
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
                              "pflashes = [\"/a\", \"/b\"]\nmemory_offset = 1024\n"
                              "accelerator = \"tcg\"\nguest_console = \"hvc0\"\n") +
                          "[proxy.kata]\nenable_debug = true\n"
                          "[shim.kata]\nenable_tracing = true\n"
                          "[agent.kata]\nkernel_modules = [\"e1000e InterruptThrottleRate=3000\"]\n"
                          "dial_timeout = 300\ntrace_mode = \"dynamic\"\n"
                          "[netmon]\nenable_netmon = true\n"
                          "[runtime]\nexperimental = [\"newstore\"]\ninternetworking_model = "
                          "\"none\"\n"
                          "[factory]\nvm_cache_number = 3\n",
                      kFile);
  if (!r.ok()) FAIL(r.error().message.c_str());
  LONGS_EQUAL(2, r->qemu.default_vcpus);
  STRCMP_EQUAL("quiet", r->qemu.kernel_params.c_str());
  LONGS_EQUAL(2, r->qemu.pflashes.size());
  STRCMP_EQUAL("/b", r->qemu.pflashes[1].c_str());
  CHECK(r->qemu.memory_offset == 1024);
  STRCMP_EQUAL("tcg", r->qemu.accelerator.c_str());
  STRCMP_EQUAL("hvc0", r->qemu.guest_console.c_str());
  CHECK(r->proxy.enable_debug);
  CHECK(r->shim.enable_tracing);
  STRCMP_EQUAL("e1000e InterruptThrottleRate=3000", r->agent.kernel_modules.at(0).c_str());
  LONGS_EQUAL(300, r->agent.dial_timeout);
  CHECK(r->netmon.enable_netmon);
  STRCMP_EQUAL("newstore", r->runtime.experimental.at(0).c_str());
  STRCMP_EQUAL("none", r->runtime.internetworking_model.c_str());
  LONGS_EQUAL(3, r->factory.vm_cache_number);
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
