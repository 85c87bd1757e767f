// kata-agent guest services over gRPC on the host: the agent's sysfs, random device and CopyFile
// roots are redirected to a scratch tree (--sysfs-root, --random-device, --copy-root), so the
// hotplug/entropy RPCs do real work without touching the host; the clock is never set.
#include <sys/stat.h>
#include <unistd.h>

#include "agent_harness.h"
#include "lib/fs_util.h"
#include "lib/temp_dir.h"

// CppUTest comes last: its leak-checking macros redefine new.
#include <CppUTest/TestHarness.h>

using kata::agenttest::AgentHarness;
using kata::agenttest::deadlineContext;

namespace {

std::string codeText(const ::grpc::Status& s) {
  return std::to_string(static_cast<int>(s.error_code())) + " " + s.error_message();
}

void put(const std::string& path, const std::string& text) {
  CHECK(kata::mkdirAll(path.substr(0, path.rfind('/')), 0755).ok());
  CHECK(kata::writeFileAtomic(path, text, 0644).ok());
}

std::string get(const std::string& path) {
  auto t = kata::readFile(path, 1 << 20);
  return t.ok() ? *t : "<missing>";
}

}  // namespace

TEST_GROUP(AgentGuest) {
  AgentHarness h;
  kata::TempDir tree;
  std::string sys, random, copyRoot;

  void setup() override {
    tree = std::move(kata::TempDir::create("kata-agent-guest-")).value();
    sys = tree.path() + "/sys";
    random = tree.path() + "/random";
    copyRoot = tree.path() + "/containers";
    put(sys + "/devices/system/cpu/cpu0/online", "1");
    put(sys + "/devices/system/cpu/cpu1/online", "0");
    put(sys + "/devices/system/memory/memory7/state", "offline");
    put(sys + "/devices/system/memory/block_size_bytes", "8000000");
    put(sys + "/devices/system/memory/probe", "");
    put(random, "");
    h.startAgent("", {"--sysfs-root", sys, "--random-device", random, "--copy-root", copyRoot});
  }
  void teardown() override { h.stop(); }
};

TEST(AgentGuest, HotplugEntropyDetailsAndCopyFileDoRealWork) {
  ::google::protobuf::Empty e;
  ::grpc::OnlineCPUMemRequest on;
  on.set_nb_cpus(1);
  on.set_wait(true);
  auto ctx = deadlineContext(20000);
  auto s = h.agent().OnlineCPUMem(ctx.get(), on, &e);
  CHECK_TEXT(s.ok(), (codeText(s) + "\n" + h.agentLog()).c_str());
  STRCMP_EQUAL("1", get(sys + "/devices/system/cpu/cpu1/online").c_str());
  STRCMP_EQUAL("online", get(sys + "/devices/system/memory/memory7/state").c_str());

  ::grpc::MemHotplugByProbeRequest probe;
  probe.add_memhotplugprobeaddr(0x240000000ull);
  auto ctx2 = deadlineContext(5000);
  s = h.agent().MemHotplugByProbe(ctx2.get(), probe, &e);
  CHECK_TEXT(s.ok(), codeText(s).c_str());
  STRCMP_EQUAL("0x240000000", get(sys + "/devices/system/memory/probe").c_str());
  probe.add_memhotplugprobeaddr(0x240000001ull);
  auto ctx3 = deadlineContext(5000);
  CHECK_EQUAL(::grpc::StatusCode::INVALID_ARGUMENT,
              h.agent().MemHotplugByProbe(ctx3.get(), probe, &e).error_code());

  ::grpc::ReseedRandomDevRequest seed;
  seed.set_data("0123456789abcdef");
  auto ctx4 = deadlineContext(5000);
  CHECK(h.agent().ReseedRandomDev(ctx4.get(), seed, &e).ok());
  STRCMP_EQUAL("0123456789abcdef", get(random).c_str());
  seed.clear_data();
  auto ctx5 = deadlineContext(5000);
  CHECK_EQUAL(::grpc::StatusCode::INVALID_ARGUMENT,
              h.agent().ReseedRandomDev(ctx5.get(), seed, &e).error_code());

  ::grpc::GuestDetailsRequest dr;
  dr.set_mem_block_size(true);
  dr.set_mem_hotplug_probe(true);
  ::grpc::GuestDetailsResponse details;
  auto ctx6 = deadlineContext(5000);
  CHECK(h.agent().GetGuestDetails(ctx6.get(), dr, &details).ok());
  CHECK_EQUAL(0x8000000u, details.mem_block_size_bytes());
  CHECK(details.support_mem_hotplug_probe());
  CHECK(!details.agent_details().version().empty());

  ::grpc::CopyFileRequest cf;
  cf.set_path(copyRoot + "/cid/hostname");
  cf.set_data("myhost\n");
  cf.set_file_size(7);
  cf.set_file_mode(0100600);
  cf.set_dir_mode(0750);
  auto ctx7 = deadlineContext(5000);
  s = h.agent().CopyFile(ctx7.get(), cf, &e);
  CHECK_TEXT(s.ok(), codeText(s).c_str());
  STRCMP_EQUAL("myhost\n", get(copyRoot + "/cid/hostname").c_str());
  struct stat st;
  CHECK_EQUAL(0, ::stat((copyRoot + "/cid/hostname").c_str(), &st));
  CHECK_EQUAL(0600u, st.st_mode & 07777);
  cf.set_path("/etc/kata-agent-test-must-not-exist");
  auto ctx8 = deadlineContext(5000);
  CHECK_EQUAL(::grpc::StatusCode::INVALID_ARGUMENT,
              h.agent().CopyFile(ctx8.get(), cf, &e).error_code());
  CHECK(::access("/etc/kata-agent-test-must-not-exist", F_OK) != 0);
}

TEST(AgentGuest, OnlinedCpusReachTheCpusetsOfUnpinnedContainers) {
  // The cpuset hierarchy as the agent sees it under --sysfs-root (the containers' real cgroups
  // stay untouched).
  std::string cs = sys + "/fs/cgroup/cpuset";
  std::string parent = cs + kata::agenttest::testCgroupParent();
  put(cs + "/cpuset.cpus", "0-7");
  put(parent + "/cpuset.cpus", "0");
  put(parent + "/free/cpuset.cpus", "0");
  put(parent + "/pinned/cpuset.cpus", "0");
  h.makeRootfs("free");
  CHECK(h.create("free", h.makeSpec("free", {"sleep", "100"})).ok());
  h.makeRootfs("pinned");
  auto spec = h.makeSpec("pinned", {"sleep", "100"});
  spec.mutable_linux()->mutable_resources()->mutable_cpu()->set_cpus("0");
  auto s = h.create("pinned", spec);
  CHECK_TEXT(s.ok(), codeText(s).c_str());

  ::google::protobuf::Empty e;
  ::grpc::OnlineCPUMemRequest on;
  on.set_nb_cpus(1);
  on.set_cpu_only(true);
  auto ctx = deadlineContext(20000);
  s = h.agent().OnlineCPUMem(ctx.get(), on, &e);
  CHECK_TEXT(s.ok(), (codeText(s) + "\n" + h.agentLog()).c_str());
  STRCMP_EQUAL("0-7", get(parent + "/cpuset.cpus").c_str());
  STRCMP_EQUAL("0-7", get(parent + "/free/cpuset.cpus").c_str());
  STRCMP_EQUAL("0", get(parent + "/pinned/cpuset.cpus").c_str());
  STRCMP_EQUAL("offline", get(sys + "/devices/system/memory/memory7/state").c_str());
  CHECK(h.remove("free").ok());
  CHECK(h.remove("pinned").ok());
}

TEST(AgentGuest, ClockAndTracingAreRefusedClearly) {
  ::google::protobuf::Empty e;
  ::grpc::SetGuestDateTimeRequest dt;
  dt.set_sec(1);  // 1970: would be very visible if it reached the host clock
  auto ctx = deadlineContext(5000);
  auto s = h.agent().SetGuestDateTime(ctx.get(), dt, &e);
  CHECK_EQUAL(::grpc::StatusCode::FAILED_PRECONDITION, s.error_code());
  CHECK(::time(nullptr) > 1700000000);
  dt.set_usec(2000000);
  auto ctx2 = deadlineContext(5000);
  CHECK_EQUAL(::grpc::StatusCode::INVALID_ARGUMENT,
              h.agent().SetGuestDateTime(ctx2.get(), dt, &e).error_code());
  ::grpc::StartTracingRequest st;
  auto ctx3 = deadlineContext(5000);
  s = h.agent().StartTracing(ctx3.get(), st, &e);
  CHECK_EQUAL(::grpc::StatusCode::UNIMPLEMENTED, s.error_code());
  CHECK(s.error_message().find("not supported") != std::string::npos);
  ::grpc::StopTracingRequest sp;
  auto ctx4 = deadlineContext(5000);
  CHECK_EQUAL(::grpc::StatusCode::UNIMPLEMENTED,
              h.agent().StopTracing(ctx4.get(), sp, &e).error_code());
}

TEST_GROUP(AgentGuestHostMode) {
  AgentHarness h;
  void setup() override { h.start(); }
  void teardown() override { h.stop(); }
};

TEST(AgentGuestHostMode, GuestOnlyRpcsAreRefusedWithoutRedirection) {
  ::google::protobuf::Empty e;
  ::grpc::OnlineCPUMemRequest on;
  on.set_nb_cpus(1);
  auto ctx = deadlineContext(5000);
  auto s = h.agent().OnlineCPUMem(ctx.get(), on, &e);
  CHECK_EQUAL(::grpc::StatusCode::FAILED_PRECONDITION, s.error_code());
  CHECK(s.error_message().find("init") != std::string::npos);
  ::grpc::MemHotplugByProbeRequest probe;
  probe.add_memhotplugprobeaddr(0x240000000ull);
  auto ctx2 = deadlineContext(5000);
  CHECK_EQUAL(::grpc::StatusCode::FAILED_PRECONDITION,
              h.agent().MemHotplugByProbe(ctx2.get(), probe, &e).error_code());
  ::grpc::ReseedRandomDevRequest seed;
  seed.set_data("x");
  auto ctx3 = deadlineContext(5000);
  CHECK_EQUAL(::grpc::StatusCode::FAILED_PRECONDITION,
              h.agent().ReseedRandomDev(ctx3.get(), seed, &e).error_code());
}
