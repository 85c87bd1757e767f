#include "runtime/virtcontainers/spec_convert.h"

#include <cstdio>
#include <string>

#include "runtime/virtcontainers/sandbox.h"

// Last: CppUTest redefines operator new for the code that follows.
#include <CppUTest/TestHarness.h>

using namespace kata;
using namespace kata::vc;

namespace {

oci::Spec specWithNamespaces(std::vector<oci::Namespace> namespaces) {
  oci::Spec s;
  s.process = oci::Process{};
  s.process->args = {"true"};
  s.process->selinuxLabel = "system_u:system_r:container_t:s0";
  s.process->apparmorProfile = "docker-default";
  s.linux = oci::Linux{};
  s.linux->mountLabel = "system_u:object_r:container_file_t:s0";
  s.linux->namespaces = std::move(namespaces);
  s.linux->cgroupsPath = "system.slice:docker:abc";
  return s;
}

oci::Device device(const char* path, const char* type, int64_t major, int64_t minor) {
  oci::Device d;
  d.path = path;
  d.type = type;
  d.major = major;
  d.minor = minor;
  return d;
}

oci::DeviceCgroup allowAll(const char* type) {
  oci::DeviceCgroup r;
  r.allow = true;
  r.type = type;
  r.access = "rwm";
  return r;
}

std::vector<std::string> namespacesOf(const ::grpc::Spec& g) {
  std::vector<std::string> out;
  for (const auto& ns : g.linux().namespaces()) out.push_back(ns.type() + "=" + ns.path());
  return out;
}

}  // namespace

TEST_GROUP(GuestSpec){};

// Upstream's agent refuses a spec that lists a pid namespace ("Unexpected PID namespace
// received ... should have been cleared out"): it gives every container its own.
TEST(GuestSpec, ConstrainedAsUpstreamsRuntimeDoesForItsAgent) {
  auto spec = specWithNamespaces({{"pid", ""},
                                  {"network", "/var/run/netns/x"},
                                  {"ipc", "/proc/1/ns/ipc"},
                                  {"uts", ""},
                                  {"mount", ""},
                                  {"cgroup", ""}});
  ::grpc::Spec g = toAgentSpec(spec);
  constrainForGuest(g, "c1");
  std::vector<std::string> want = {"ipc=", "uts=", "mount=", "cgroup="};
  CHECK_TRUE(namespacesOf(g) == want);
  STRCMP_EQUAL("", g.process().selinuxlabel().c_str());
  STRCMP_EQUAL("", g.process().apparmorprofile().c_str());
  STRCMP_EQUAL("", g.linux().mountlabel().c_str());
  STRCMP_EQUAL("/kata/c1", g.linux().cgroupspath().c_str());
  CHECK_FALSE(sharesSandboxPidNamespace(spec));

  spec.linux->namespaces = {{"pid", "/proc/42/ns/pid"}};  // a pod's shared pid namespace
  spec.linux->cgroupsPath = "/pods/c1";
  g = toAgentSpec(spec);
  constrainForGuest(g, "c1");
  CHECK_EQUAL(0, g.linux().namespaces_size());
  STRCMP_EQUAL("/pods/c1", g.linux().cgroupspath().c_str());
  CHECK_TRUE(sharesSandboxPidNamespace(spec));
}

// The form upstream Kata 1.12's runtime sends, which is the only one its agent mounts: the
// mount point ends with '/', else the agent never creates it ("Could not mount kataShared to
// /run/kata-containers/shared/containers: no such file or directory").
// A host device cannot enter the VM: refused, naming docker's --device, unless it is one that
// every kernel numbers alike. docker --privileged (every device allowed) gets the guest's
// devices instead of the host's, asked of the agent by an annotation only the runtime sets.
TEST(GuestSpec, HostDevicesAreRefusedOrReplacedByTheGuestsWhenPrivileged) {
  auto spec = specWithNamespaces({{"pid", ""}, {"network", ""}, {"ipc", ""}});
  spec.linux->devices = {device("/dev/myzero", "c", 1, 5), device("/dev/net/tun", "c", 10, 200)};
  spec.annotations["io.katacontainers.guest_devices"] = "all";  // not the user's to set
  CHECK_TRUE(checkGuestCanHonour(spec).ok());
  ::grpc::Spec g = toAgentSpec(spec);
  constrainForGuest(g, "c1");
  CHECK_EQUAL(2, g.linux().devices_size());
  CHECK_EQUAL(0u, g.annotations().count(kGuestDevicesAnnotation));

  spec.linux->devices.push_back(device("/dev/kvm", "c", 10, 232));
  auto s = checkGuestCanHonour(spec);
  CHECK_FALSE(s.ok());
  STRCMP_EQUAL("linux.devices: /dev/kvm: a host device cannot enter the VM (docker --device)",
               s.error().message.c_str());
  spec.linux->devices = {device("/dev/sda", "b", 8, 0)};
  CHECK_FALSE(checkGuestCanHonour(spec).ok());
  // A rule that allows every access to one kind of device only is not --privileged.
  spec.linux->resources = oci::Resources{};
  spec.linux->resources->devices = {allowAll("c")};
  CHECK_FALSE(checkGuestCanHonour(spec).ok());

  spec.linux->devices = {device("/dev/sda", "b", 8, 0), device("/dev/null", "c", 1, 3)};
  spec.linux->resources->devices = {allowAll("")};
  CHECK_TRUE(checkGuestCanHonour(spec).ok());
  g = toAgentSpec(spec);
  constrainForGuest(g, "c1");
  CHECK_EQUAL(1, g.linux().devices_size());
  STRCMP_EQUAL("/dev/null", g.linux().devices(0).path().c_str());
  STRCMP_EQUAL("all", g.annotations().at(kGuestDevicesAnnotation).c_str());
}

TEST(GuestSpec, CreateSandboxRequestIsUpstreams) {
  config::Config config;
  config.agent.kernel_modules = {"9pnet_virtio",
                                 "  e1000e  InterruptThrottleRate=3000,3000  debug=1 "};
  VmConfig vm;
  vm.sharedFs = "virtio-9p";
  vm.msize9p = 8192;
  SandboxSpec spec;
  spec.id = "sb1";
  spec.hostname = "host1";
  spec.dns = {"nameserver 10.0.0.1"};
  auto req = createSandboxRequest(config, vm, spec);
  STRCMP_EQUAL("sb1", req.sandbox_id().c_str());
  STRCMP_EQUAL("host1", req.hostname().c_str());
  CHECK_EQUAL(1, req.storages_size());
  const auto& st = req.storages(0);
  STRCMP_EQUAL("9p", st.driver().c_str());
  STRCMP_EQUAL("9p", st.fstype().c_str());
  STRCMP_EQUAL("kataShared", st.source().c_str());
  STRCMP_EQUAL("/run/kata-containers/shared/containers/", st.mount_point().c_str());
  CHECK_EQUAL(3, st.options_size());
  STRCMP_EQUAL("trans=virtio,version=9p2000.L,cache=mmap", st.options(0).c_str());
  STRCMP_EQUAL("nodev", st.options(1).c_str());
  STRCMP_EQUAL("msize=8192", st.options(2).c_str());
  CHECK_EQUAL(2, req.kernel_modules_size());
  STRCMP_EQUAL("9pnet_virtio", req.kernel_modules(0).name().c_str());
  CHECK_EQUAL(0, req.kernel_modules(0).parameters_size());
  STRCMP_EQUAL("e1000e", req.kernel_modules(1).name().c_str());
  CHECK_EQUAL(2, req.kernel_modules(1).parameters_size());  // one per word, as upstream
  STRCMP_EQUAL("InterruptThrottleRate=3000,3000", req.kernel_modules(1).parameters(0).c_str());
  STRCMP_EQUAL("debug=1", req.kernel_modules(1).parameters(1).c_str());

  vm.sharedFs = "virtio-fs";
  req = createSandboxRequest(config, vm, spec);
  STRCMP_EQUAL("virtio-fs", req.storages(0).driver().c_str());
  STRCMP_EQUAL("virtiofs", req.storages(0).fstype().c_str());
  STRCMP_EQUAL("/run/kata-containers/shared/containers/", req.storages(0).mount_point().c_str());
  CHECK_EQUAL(0, req.storages(0).options_size());
}

TEST_GROUP(SpecConvert){};

TEST(SpecConvert, UmaskSeccompErrnoAndFlagsAndPersonalityReachTheAgent) {
  auto spec = oci::parseSpec(R"({
    "ociVersion": "1.0.2", "root": {"path": "rootfs"},
    "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0, "umask": 63}},
    "linux": {
      "seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
                  "flags": ["SECCOMP_FILTER_FLAG_LOG"],
                  "syscalls": [{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
                               {"names": ["read"], "action": "SCMP_ACT_ALLOW"}]},
      "personality": {"domain": "LINUX32"}}})");
  CHECK(spec.ok());
  ::grpc::Spec g = vc::toAgentSpec(*spec);
  CHECK(g.process().user().has_umask());
  LONGS_EQUAL(63, g.process().user().umask());
  const auto& sc = g.linux().seccomp();
  LONGS_EQUAL(1, sc.defaulterrnoret());
  STRCMP_EQUAL("SECCOMP_FILTER_FLAG_LOG", sc.flags(0).c_str());
  CHECK(sc.syscalls(0).has_errnoret());
  LONGS_EQUAL(38, sc.syscalls(0).errnoret());
  CHECK_FALSE(sc.syscalls(1).has_errnoret());
  STRCMP_EQUAL("LINUX32", g.linux().personality().domain().c_str());

  spec->process->user.umask.reset();
  CHECK_FALSE(vc::toAgentSpec(*spec).process().user().has_umask());  // the agent's 0022
}

// Fields a VM cannot honour and runc would not ignore fail create, naming the field, before
// anything exists; kernel memory (ignored by runc with a warning) and host security labels
// are accepted.
TEST(SpecConvert, FieldsTheGuestCannotHonourAreRefusedByName) {
  const char* base = R"({"ociVersion": "1.0.2", "root": {"path": "rootfs"},
                         "process": {"args": ["sh"], "cwd": "/"%s}%s})";
  // Every spec has the namespaces a VM needs unless `namespaces` says otherwise.
  const std::string all =
      R"("namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}])";
  auto check = [&](const char* process, const char* rest, const char* field,
                   const std::string& namespaces = "") {
    const std::string ns = namespaces.empty() ? all : namespaces;
    std::string r = rest;
    if (size_t at = r.find(R"("linux": {)"); at != std::string::npos)
      r.insert(at + 10, ns + ", ");
    else
      r += R"(, "linux": {)" + ns + "}";
    char json[1024];
    std::snprintf(json, sizeof json, base, process, r.c_str());
    auto spec = oci::parseSpec(json);
    CHECK_TEXT(spec.ok(), json);
    auto s = vc::checkGuestCanHonour(*spec);
    if (!field) {
      CHECK_TEXT(s.ok(), s.ok() ? "" : s.error().message.c_str());
      return;
    }
    CHECK_TEXT(!s.ok(), field);
    CHECK_TEXT(s.error().message.rfind(field, 0) == 0, s.error().message.c_str());
  };
  check("", "", nullptr);
  check(R"(, "apparmorProfile": "unconfined")", "", nullptr);
  // Host security labels are ignored (warned about): the guest kernel has neither LSM.
  check(R"(, "apparmorProfile": "docker-default")", "", nullptr);
  check(R"(, "selinuxLabel": "system_u:system_r:container_t:s0")", "", nullptr);
  check("", R"(, "linux": {"mountLabel": "system_u:object_r:container_file_t:s0"})", nullptr);
  check("", R"(, "linux": {"intelRdt": {"l3CacheSchema": "L3:0=ff"}})", "linux.intelRdt");
  check("", R"(, "linux": {"resources": {"unified": {"memory.high": "1000000"}}})",
        "linux.resources.unified");
  check("", R"(, "hooks": {"createContainer": [{"path": "/bin/true"}]})", "hooks.createContainer");
  check("", R"(, "hooks": {"startContainer": [{"path": "/bin/true"}]})", "hooks.startContainer");
  check("", R"(, "hooks": {"prestart": [{"path": "/bin/true"}]})", nullptr);  // run on the host
  check("", R"(, "linux": {"resources": {"memory": {"kernel": 1048576}}})", nullptr);
  // The host's namespaces (Docker's --network/--pid/--ipc host) cannot be given to a VM.
  check("", "", "linux.namespaces: no network namespace",
        R"("namespaces": [{"type": "pid"}, {"type": "ipc"}])");
  // ... except a rootless spec's: an unprivileged runc shares the host's network only because it
  // cannot make another; the guest gives it loopback.
  check("", "", nullptr, R"("namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "user"}])");
  check("", "", "linux.namespaces: no pid namespace",
        R"("namespaces": [{"type": "network"}, {"type": "ipc"}])");
  check("", "", "linux.namespaces: no ipc namespace",
        R"("namespaces": [{"type": "pid"}, {"type": "network", "path": "/var/run/netns/x"}])");
}
