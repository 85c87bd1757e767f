#include "runtime/virtcontainers/host_cgroup.h"

#include <unistd.h>

#include <fstream>
#include <optional>

#include "lib/fs_util.h"
#include "lib/temp_dir.h"
#include "runtime/virtcontainers/sandbox.h"

// CppUTest comes last: its leak-detection macros break standard headers.
#include <CppUTest/TestHarness.h>

using kata::vc::hostCgroupPath;

namespace {

std::string pathOf(const std::string& cgroupsPath) {
  auto p = hostCgroupPath(cgroupsPath);
  return p.ok() ? *p : "error: " + p.error().message;
}

void touch(const std::string& path) { std::ofstream(path).flush(); }

std::string content(const std::string& path) {
  auto t = kata::readFile(path, 4096);
  return t.ok() ? *t : "<missing>";
}

}  // namespace

TEST_GROUP(HostCgroupPath){};

TEST(HostCgroupPath, CgroupfsPathsAreCleanedAndDotDotRefused) {
  STRCMP_EQUAL("/docker/abc", pathOf("/docker/abc").c_str());
  STRCMP_EQUAL("/docker/abc", pathOf("//docker/./abc/").c_str());
  STRCMP_EQUAL("/parent/abc", pathOf("parent/abc").c_str());
  STRCMP_EQUAL("", pathOf("").c_str());
  CHECK_TRUE(pathOf("/docker/../../etc").find("error: ") == 0);
  CHECK_TRUE(pathOf("/").find("root cgroup") != std::string::npos);
}

TEST(HostCgroupPath, SystemdPathsExpandTheirSlice) {
  STRCMP_EQUAL("/system.slice/docker-abc.scope", pathOf("system.slice:docker:abc").c_str());
  STRCMP_EQUAL("/system.slice/docker-abc.scope", pathOf(":docker:abc").c_str());
  STRCMP_EQUAL("/my.slice/my-kata.slice/docker-abc.scope",
               pathOf("my-kata.slice:docker:abc").c_str());
  STRCMP_EQUAL("/a.slice/a-b.slice", pathOf("system.slice:docker:a-b.slice").c_str());
  CHECK_TRUE(pathOf("notaslice:docker:abc").find("not a systemd slice") != std::string::npos);
  CHECK_TRUE(pathOf("system.slice:docker:a/b").find("error: ") == 0);
  CHECK_TRUE(pathOf("a:b").find("error: ") == 0);
}

TEST_GROUP(HostCgroup) {
  std::optional<kata::TempDir> dir;
  void setup() override {
    auto d = kata::TempDir::create("hostcg");
    CHECK_TRUE(d.ok());
    dir.emplace(std::move(d).value());
  }
};

TEST(HostCgroup, V1LimitsGoToTheHierarchyThatHasTheirFilesAndTheCallerMovesIn) {
  const std::string cpu = dir->path() + "/cpu", mem = dir->path() + "/memory";
  for (const auto& d : {cpu + "/p/c", mem + "/p/c"}) CHECK_TRUE(kata::mkdirAll(d, 0755).ok());
  for (const char* f : {"cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us", "cgroup.procs"})
    touch(cpu + "/p/c/" + f);
  touch(mem + "/p/c/cgroup.procs");
  kata::vc::CgroupHierarchies h{false, {cpu, mem}};
  kata::oci::Resources r;
  r.cpu = kata::oci::CpuResources{};
  r.cpu->shares = 512;
  r.cpu->quota = 200000;
  r.cpu->period = 100000;
  r.memory = kata::oci::MemoryResources{};
  r.memory->limit = 64 << 20;  // not applied on the host: the VM's size bounds it
  auto st = kata::vc::createHostCgroup(h, "/p/c", &r);
  CHECK_TEXT(st.ok(), st.error().message.c_str());
  STRCMP_EQUAL("512", content(cpu + "/p/c/cpu.shares").c_str());
  STRCMP_EQUAL("200000", content(cpu + "/p/c/cpu.cfs_quota_us").c_str());
  STRCMP_EQUAL("100000", content(cpu + "/p/c/cpu.cfs_period_us").c_str());
  STRCMP_EQUAL(std::to_string(getpid()).c_str(), content(mem + "/p/c/cgroup.procs").c_str());
  STRCMP_EQUAL("<missing>", content(mem + "/p/c/memory.limit_in_bytes").c_str());

  r.cpu->shares = 1024;
  CHECK_TRUE(kata::vc::applyHostCgroup(h, "/p/c", r).ok());
  STRCMP_EQUAL("1024", content(cpu + "/p/c/cpu.shares").c_str());
  auto gone = kata::vc::applyHostCgroup(h, "/p/other", r);
  CHECK_FALSE(gone.ok());
  CHECK_TRUE(kata::vc::removeHostCgroup(h, "/p/other").ok());  // nothing there: nothing to do
}

TEST(HostCgroup, V2CpuMaxAndWeight) {
  const std::string root = dir->path();
  CHECK_TRUE(kata::mkdirAll(root + "/p/c", 0755).ok());
  for (const char* f : {"cpu.weight", "cpu.max", "cgroup.procs"}) touch(root + "/p/c/" + f);
  kata::vc::CgroupHierarchies h{true, {root}};
  kata::oci::Resources r;
  r.cpu = kata::oci::CpuResources{};
  r.cpu->shares = 1024;
  r.cpu->quota = 150000;
  r.cpu->period = 100000;
  CHECK_TRUE(kata::vc::createHostCgroup(h, "/p/c", &r).ok());
  STRCMP_EQUAL("39", content(root + "/p/c/cpu.weight").c_str());
  STRCMP_EQUAL("150000 100000", content(root + "/p/c/cpu.max").c_str());
}

TEST_GROUP(SizeVm){};

TEST(SizeVm, MemoryLimitAddsToTheDefaultAndCpuLimitsGiveVcpus) {
  kata::vc::VmConfig vm;
  vm.memoryMiB = 512;
  vm.vcpus = 1;
  vm.maxVcpus = 4;
  kata::oci::Resources r;
  kata::vc::sizeVm(vm, r);
  LONGS_EQUAL(512, vm.memoryMiB);
  LONGS_EQUAL(1, vm.vcpus);
  r.memory = kata::oci::MemoryResources{};
  r.memory->limit = (256 << 20) + 1;  // rounded up
  r.cpu = kata::oci::CpuResources{};
  r.cpu->quota = 150000;
  r.cpu->period = 100000;
  kata::vc::sizeVm(vm, r);
  LONGS_EQUAL(512 + 257, vm.memoryMiB);
  LONGS_EQUAL(2, vm.vcpus);

  kata::vc::VmConfig set;
  set.maxVcpus = 4;
  kata::oci::Resources c;
  c.cpu = kata::oci::CpuResources{};
  c.cpu->cpus = "0-2,5";
  kata::vc::sizeVm(set, c);
  LONGS_EQUAL(4, set.vcpus);
  c.cpu->quota = 100000;  // --cpus 1 within a 4-CPU cpuset: the smaller
  c.cpu->period = 100000;
  kata::vc::sizeVm(set, c);
  LONGS_EQUAL(1, set.vcpus);
  c.cpu->quota = 800000;  // more than the host has: capped
  c.cpu->cpus.clear();
  kata::vc::sizeVm(set, c);
  LONGS_EQUAL(4, set.vcpus);
}
