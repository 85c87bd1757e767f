#include "runtime/virtcontainers/spec_convert.h"

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
  s.linux = oci::Linux{};
  s.linux->namespaces = std::move(namespaces);
  s.linux->cgroupsPath = "system.slice:docker:abc";
  return s;
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
TEST(GuestSpec, CreateSandboxRequestIsUpstreams) {
  config::Config config;
  config.agent.kernel_modules = {"9pnet_virtio",
                                 "  e1000e  InterruptThrottleRate=3000,3000  debug=1 "};
  VmConfig vm;
  vm.sharedFs = "virtio-9p";
  vm.msize9p = 8192;
  SandboxSpec spec{"sb1", "host1", {"nameserver 10.0.0.1"}, ""};
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
