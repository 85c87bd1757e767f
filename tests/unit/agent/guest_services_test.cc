#include "agent/guest_services.h"

#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "lib/fs_util.h"
#include "lib/temp_dir.h"
#include "protocols/agent.pb.h"

// CppUTest comes last: its leak-checking macros redefine new.
#include <CppUTest/TestHarness.h>

using namespace kata;
using namespace kata::agent;

namespace {

void put(const std::string& path, const std::string& text) {
  auto slash = path.rfind('/');
  CHECK(mkdirAll(path.substr(0, slash), 0755).ok());
  CHECK(writeFileAtomic(path, text, 0644).ok());
}

std::string get(const std::string& path) {
  auto t = readFile(path, 1 << 20);
  return t.ok() ? *t : "<missing>";
}

bool exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace

TEST_GROUP(GuestServices) {
  TempDir dir;
  std::string sys, shared;
  GuestServiceOptions opts;

  void setup() override {
    dir = std::move(TempDir::create("guest-services-test-")).value();
    sys = dir.path() + "/sys";
    shared = dir.path() + "/shared";
    put(sys + "/devices/system/cpu/cpu0/online", "1\n");
    put(sys + "/devices/system/cpu/cpu1/online", "0\n");
    put(sys + "/devices/system/cpu/cpu2/online", "0\n");
    put(sys + "/devices/system/memory/memory0/state", "online\n");
    put(sys + "/devices/system/memory/memory1/state", "offline\n");
    put(sys + "/devices/system/memory/block_size_bytes", "8000000\n");
    put(sys + "/devices/system/memory/probe", "");
    opts.sysfsRoot = sys;
    opts.sysfsRedirected = true;
    opts.randomDevice = dir.path() + "/random";
    opts.randomRedirected = true;
    opts.copyRoot = shared;
    opts.onlineRetries = 2;
    opts.onlineRetryMs = 1;
  }

  grpc::CopyFileRequest copyReq(const std::string& path, const std::string& data, int64_t offset,
                                int64_t size) {
    grpc::CopyFileRequest r;
    r.set_path(path);
    r.set_data(data);
    r.set_offset(offset);
    r.set_file_size(size);
    r.set_file_mode(0100640);  // the host's st_mode
    r.set_dir_mode(0750);
    r.set_uid(1234);
    r.set_gid(5678);
    return r;
  }
};

TEST(GuestServices, OnlineCpuMemOnlinesCpusAndMemory) {
  GuestServices g(opts);
  grpc::OnlineCPUMemRequest r;
  r.set_nb_cpus(2);
  r.set_wait(true);
  auto s = g.onlineCpuMem(r);
  CHECK_TEXT(s.ok(), s.ok() ? "" : s.error().str().c_str());
  STRCMP_EQUAL("1", get(sys + "/devices/system/cpu/cpu1/online").c_str());
  STRCMP_EQUAL("1", get(sys + "/devices/system/cpu/cpu2/online").c_str());
  STRCMP_EQUAL("online", get(sys + "/devices/system/memory/memory1/state").c_str());
  STRCMP_EQUAL("online\n", get(sys + "/devices/system/memory/memory0/state").c_str());
}

TEST(GuestServices, OnlineCpuMemCpuOnlyLeavesMemory) {
  GuestServices g(opts);
  grpc::OnlineCPUMemRequest r;
  r.set_nb_cpus(1);
  r.set_cpu_only(true);
  CHECK(g.onlineCpuMem(r).ok());
  STRCMP_EQUAL("offline\n", get(sys + "/devices/system/memory/memory1/state").c_str());
}

TEST(GuestServices, OnlineCpuMemBadInput) {
  GuestServices g(opts);
  grpc::OnlineCPUMemRequest r;
  r.set_nb_cpus(3);  // only two CPUs are offline
  r.set_wait(true);
  auto s = g.onlineCpuMem(r);
  CHECK(!s.ok());
  CHECK_EQUAL(ETIMEDOUT, s.error().code);
  r.set_nb_cpus(100000);
  CHECK_EQUAL(EINVAL, g.onlineCpuMem(r).error().code);
  r.set_nb_cpus(0);
  r.set_cpu_only(true);
  CHECK_EQUAL(EINVAL, g.onlineCpuMem(r).error().code);
  GuestServiceOptions host;  // host mode, real /sys: refused, nothing touched
  GuestServices h(host);
  r.set_nb_cpus(1);
  CHECK_EQUAL(EALREADY, h.onlineCpuMem(r).error().code);
}

TEST(GuestServices, MemHotplugByProbeWritesAlignedAddresses) {
  GuestServices g(opts);
  CHECK(g.memHotplugByProbe({0x100000000ull}).ok());
  STRCMP_EQUAL("0x100000000", get(sys + "/devices/system/memory/probe").c_str());
  auto s = g.memHotplugByProbe({0x100000000ull, 0x100001000ull});
  CHECK_EQUAL(EINVAL, s.error().code);
  CHECK(s.error().message.find("0x100001000") != std::string::npos);
  CHECK_EQUAL(EINVAL, g.memHotplugByProbe({}).error().code);
  CHECK_EQUAL(EINVAL, g.memHotplugByProbe(std::vector<uint64_t>(5000, 0)).error().code);
  ::unlink((sys + "/devices/system/memory/probe").c_str());
  CHECK_EQUAL(ENOTSUP, g.memHotplugByProbe({0x100000000ull}).error().code);
}

TEST(GuestServices, SetDateTimeUsesTheInjectedClock) {
  timeval got{};
  opts.setClock = [&](const timeval& tv) {
    got = tv;
    return okStatus();
  };
  GuestServices g(opts);
  CHECK(g.setDateTime(1700000000, 250000).ok());
  CHECK_EQUAL(1700000000, got.tv_sec);
  CHECK_EQUAL(250000, got.tv_usec);
  CHECK_EQUAL(EINVAL, g.setDateTime(1, 1000000).error().code);
  CHECK_EQUAL(EINVAL, g.setDateTime(-1, 0).error().code);
  CHECK_EQUAL(EINVAL, g.setDateTime(1, -1).error().code);
  GuestServices host(GuestServiceOptions{});  // host mode, no setter: the host clock is safe
  CHECK_EQUAL(EALREADY, host.setDateTime(1, 0).error().code);
}

TEST(GuestServices, ReseedRandomWritesTheSeed) {
  put(opts.randomDevice, "");
  GuestServices g(opts);
  CHECK(g.reseedRandom("entropy!").ok());
  STRCMP_EQUAL("entropy!", get(opts.randomDevice).c_str());
  CHECK_EQUAL(EINVAL, g.reseedRandom("").error().code);
  CHECK_EQUAL(EINVAL, g.reseedRandom(std::string((1 << 20) + 1, 'x')).error().code);
  CHECK_EQUAL(EALREADY, GuestServices(GuestServiceOptions{}).reseedRandom("x").error().code);
}

TEST(GuestServices, GuestDetails) {
  GuestServices g(opts);
  grpc::GuestDetailsRequest r;
  r.set_mem_block_size(true);
  r.set_mem_hotplug_probe(true);
  grpc::GuestDetailsResponse resp;
  g.guestDetails(r, &resp);
  CHECK_EQUAL(0x8000000u, resp.mem_block_size_bytes());
  CHECK(resp.support_mem_hotplug_probe());
  CHECK(!resp.agent_details().version().empty());
  CHECK(!resp.agent_details().init_daemon());
  CHECK(resp.agent_details().storage_handlers_size() > 0);
}

TEST(GuestServices, CopyFileIsAtomicWithModeAndOwner) {
  GuestServices g(opts);
  std::string path = shared + "/cid/mounts/hosts";
  auto s = g.copyFile(copyReq(path, "hello ", 0, 11));
  CHECK_TEXT(s.ok(), s.ok() ? "" : s.error().str().c_str());
  CHECK(!exists(path));  // incomplete: not visible yet
  s = g.copyFile(copyReq(path, "world", 6, 11));
  CHECK_TEXT(s.ok(), s.ok() ? "" : s.error().str().c_str());
  STRCMP_EQUAL("hello world", get(path).c_str());
  CHECK(!exists(path + ".tmp"));
  struct stat st;
  CHECK_EQUAL(0, ::stat(path.c_str(), &st));
  CHECK_EQUAL(0640u, st.st_mode & 07777);
  CHECK_EQUAL(1234u, st.st_uid);
  CHECK_EQUAL(5678u, st.st_gid);
  CHECK_EQUAL(0, ::stat((shared + "/cid/mounts").c_str(), &st));
  CHECK_EQUAL(0750u, st.st_mode & 07777);
  // A second copy replaces it; an empty file is fine.
  CHECK(g.copyFile(copyReq(path, "", 0, 0)).ok());
  STRCMP_EQUAL("", get(path).c_str());
}

TEST(GuestServices, CopyFileBadInputLeavesNothing) {
  GuestServices g(opts);
  CHECK_EQUAL(EINVAL, g.copyFile(copyReq("/etc/passwd", "x", 0, 1)).error().code);
  CHECK_EQUAL(EINVAL, g.copyFile(copyReq(shared + "/../escape", "x", 0, 1)).error().code);
  CHECK_EQUAL(EINVAL, g.copyFile(copyReq(shared + "/a//b", "x", 0, 1)).error().code);
  CHECK_EQUAL(EINVAL, g.copyFile(copyReq(shared + "/", "x", 0, 1)).error().code);
  CHECK_EQUAL(EINVAL, g.copyFile(copyReq(shared + "/f", "xy", 0, 1)).error().code);
  CHECK_EQUAL(EINVAL, g.copyFile(copyReq(shared + "/f", "x", -1, 1)).error().code);
  auto dirMode = copyReq(shared + "/f", "x", 0, 1);
  dirMode.set_file_mode(040755);
  CHECK_EQUAL(EINVAL, g.copyFile(dirMode).error().code);
  CHECK(!exists(shared + "/f"));
  CHECK(!exists(shared + "/f.tmp"));
  CHECK(!exists(dir.path() + "/escape"));
  // A symlink inside the tree cannot lead the write outside it.
  std::string outside = dir.path() + "/outside";
  CHECK(mkdirAll(outside, 0755).ok());
  CHECK(mkdirAll(shared + "/cid", 0755).ok());
  CHECK_EQUAL(0, ::symlink(outside.c_str(), (shared + "/cid/link").c_str()));
  (void)g.copyFile(copyReq(shared + "/cid/link/x", "x", 0, 1));
  CHECK(!exists(outside + "/x"));
}

TEST(GuestServices, WidenCpusetsCopiesTheRootCpusDownEachPath) {
  std::string cs = sys + "/fs/cgroup/cpuset";
  put(cs + "/cpuset.cpus", "0-3\n");
  put(cs + "/kata/cpuset.cpus", "0-1\n");
  put(cs + "/kata/c1/cpuset.cpus", "0-1\n");
  put(cs + "/kata/c2/cpuset.cpus", "1\n");
  GuestServices g(opts);
  auto s = g.widenCpusets({"/kata/c1", "/kata/gone/deeper"});
  CHECK_TEXT(s.ok(), s.ok() ? "" : s.error().str().c_str());
  STRCMP_EQUAL("0-3", get(cs + "/kata/cpuset.cpus").c_str());
  STRCMP_EQUAL("0-3", get(cs + "/kata/c1/cpuset.cpus").c_str());
  STRCMP_EQUAL("1\n", get(cs + "/kata/c2/cpuset.cpus").c_str());  // not asked for: pinned
  CHECK(!exists(cs + "/kata/gone"));
}
