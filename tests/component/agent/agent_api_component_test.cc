// kata-agent component tests of the container management RPCs beyond the core: pause/resume,
// ListProcesses, UpdateContainer, StatsContainer, GetOOMEvent. Real agent, real cgroups.
#include <unistd.h>

#include <chrono>
#include <sstream>
#include <thread>

#include "agent_harness.h"
#include "lib/fs_util.h"

// CppUTest comes last: its leak-checking macros redefine new.
#include <CppUTest/TestHarness.h>

using kata::agenttest::AgentHarness;
using kata::agenttest::deadlineContext;
using kata::agenttest::kTestCgroupParent;

namespace {

std::string codeText(const ::grpc::Status& s) {
  return std::to_string(static_cast<int>(s.error_code())) + " " + s.error_message();
}

std::string cgroupFile(const std::string& ctrl, const std::string& cid, const std::string& file) {
  auto text = kata::readFile("/sys/fs/cgroup/" + ctrl + kTestCgroupParent + "/" + cid + "/" + file,
                             1 << 20);
  if (!text.ok()) return "<missing>";
  std::string s = *text;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string l;
  while (std::getline(in, l)) out.push_back(l);
  return out;
}

}  // namespace

TEST_GROUP(AgentApi) {
  AgentHarness h;
  void setup() override { h.start(); }
  void teardown() override { h.stop(); }

  void createAndStart(const std::string& cid, const std::vector<std::string>& args) {
    std::string failed = h.createAndStart(cid, args);
    CHECK_TEXT(failed.empty(), failed.c_str());
  }

  ::grpc::Status pause(const std::string& cid, bool resume = false) {
    ::google::protobuf::Empty e;
    auto ctx = deadlineContext(10000);
    if (resume) {
      ::grpc::ResumeContainerRequest r;
      r.set_container_id(cid);
      return h.agent().ResumeContainer(ctx.get(), r, &e);
    }
    ::grpc::PauseContainerRequest r;
    r.set_container_id(cid);
    return h.agent().PauseContainer(ctx.get(), r, &e);
  }

  ::grpc::StatsContainerResponse stats(const std::string& cid) {
    ::grpc::StatsContainerRequest r;
    r.set_container_id(cid);
    ::grpc::StatsContainerResponse resp;
    auto ctx = deadlineContext(10000);
    auto s = h.agent().StatsContainer(ctx.get(), r, &resp);
    CHECK_TEXT(s.ok(), codeText(s).c_str());
    return resp;
  }

  uint64_t memoryUsage(const std::string& cid) {
    return stats(cid).cgroup_stats().memory_stats().usage().usage();
  }

  ::grpc::Status list(const std::string& cid, const std::string& format,
                      const std::vector<std::string>& args, std::string* out) {
    ::grpc::ListProcessesRequest r;
    r.set_container_id(cid);
    r.set_format(format);
    for (const auto& a : args) r.add_args(a);
    ::grpc::ListProcessesResponse resp;
    auto ctx = deadlineContext(20000);
    auto s = h.agent().ListProcesses(ctx.get(), r, &resp);
    *out = resp.process_list();
    return s;
  }

  ::grpc::Status update(const std::string& cid, const ::grpc::LinuxResources& res) {
    ::grpc::UpdateContainerRequest r;
    r.set_container_id(cid);
    *r.mutable_resources() = res;
    ::google::protobuf::Empty e;
    auto ctx = deadlineContext(10000);
    return h.agent().UpdateContainer(ctx.get(), r, &e);
  }
};

TEST(AgentApi, PausedContainerAccumulatesNoCpuTime) {
  std::string cid = "c-pause";
  createAndStart(cid, {"sh", "-c", "while :; do :; done"});
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto s = pause(cid);
  CHECK_TEXT(s.ok(), codeText(s).c_str());
  STRCMP_EQUAL("FROZEN", cgroupFile("freezer", cid, "freezer.state").c_str());
  uint64_t before = stats(cid).cgroup_stats().cpu_stats().cpu_usage().total_usage();
  CHECK(before > 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  uint64_t after = stats(cid).cgroup_stats().cpu_stats().cpu_usage().total_usage();
  CHECK_EQUAL(before, after);

  CHECK_EQUAL(::grpc::StatusCode::FAILED_PRECONDITION, pause(cid).error_code());
  s = h.exec(cid, "e1", {"true"});
  CHECK_EQUAL(::grpc::StatusCode::FAILED_PRECONDITION, s.error_code());

  s = pause(cid, true);
  CHECK_TEXT(s.ok(), codeText(s).c_str());
  STRCMP_EQUAL("THAWED", cgroupFile("freezer", cid, "freezer.state").c_str());
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  uint64_t resumed = stats(cid).cgroup_stats().cpu_stats().cpu_usage().total_usage();
  CHECK_TEXT(resumed > after + 20000000ull, std::to_string(resumed - after).c_str());
  CHECK_EQUAL(::grpc::StatusCode::FAILED_PRECONDITION, pause(cid, true).error_code());

  // A paused container can still be removed.
  CHECK(pause(cid).ok());
  CHECK(h.remove(cid).ok());
  CHECK_EQUAL(::grpc::StatusCode::NOT_FOUND, pause("c-pause").error_code());
  CHECK_EQUAL(::grpc::StatusCode::INVALID_ARGUMENT, pause("../x", true).error_code());
}

TEST(AgentApi, ListProcessesAsJsonAndPsTable) {
  std::string cid = "c-ps";
  createAndStart(cid, {"sleep", "100"});
  CHECK(h.exec(cid, "e1", {"sleep", "200"}).ok());
  std::string procs = cgroupFile("pids", cid, "cgroup.procs");
  std::vector<std::string> pids = lines(procs);
  CHECK_EQUAL(2u, pids.size());

  std::string out;
  auto s = list(cid, "json", {}, &out);
  CHECK_TEXT(s.ok(), codeText(s).c_str());
  std::string want =
      "[" +
      std::min(pids[0], pids[1], [](auto& a, auto& b) { return std::stoi(a) < std::stoi(b); }) +
      "," +
      std::max(pids[0], pids[1], [](auto& a, auto& b) { return std::stoi(a) < std::stoi(b); }) +
      "]";
  STRCMP_EQUAL(want.c_str(), out.c_str());

  s = list(cid, "table", {}, &out);  // default args: -ef
  CHECK_TEXT(s.ok(), codeText(s).c_str());
  auto rows = lines(out);
  CHECK_EQUAL_TEXT(3u, rows.size(), out.c_str());
  CHECK_TEXT(rows[0].find("PID") != std::string::npos && rows[0].find("CMD") != std::string::npos,
             out.c_str());
  CHECK_TEXT(rows[1].find("sleep") != std::string::npos, out.c_str());
  CHECK_TEXT(out.find("sleep 100") != std::string::npos, out.c_str());
  CHECK_TEXT(out.find("sleep 200") != std::string::npos, out.c_str());

  s = list(cid, "table", {"-o", "pid,args"}, &out);
  CHECK_TEXT(s.ok(), codeText(s).c_str());
  rows = lines(out);
  CHECK_EQUAL_TEXT(3u, rows.size(), out.c_str());
  CHECK_TEXT(rows[0].find("PID") != std::string::npos, out.c_str());

  // Bad input.
  s = list(cid, "xml", {}, &out);
  CHECK_EQUAL(::grpc::StatusCode::INVALID_ARGUMENT, s.error_code());
  s = list(cid, "table", {"-o", "comm"}, &out);  // no PID column to filter on
  CHECK_EQUAL(::grpc::StatusCode::INVALID_ARGUMENT, s.error_code());
  CHECK_TEXT(s.error_message().find("PID") != std::string::npos, s.error_message().c_str());
  s = list(cid, "table", {"--no-such-ps-option"}, &out);
  CHECK_EQUAL(::grpc::StatusCode::INVALID_ARGUMENT, s.error_code());
  s = list(cid, "table", std::vector<std::string>(40, "-e"), &out);
  CHECK_EQUAL(::grpc::StatusCode::INVALID_ARGUMENT, s.error_code());
  s = list(cid, "table", {std::string("a\0b", 3)}, &out);
  CHECK_EQUAL(::grpc::StatusCode::INVALID_ARGUMENT, s.error_code());
  s = list("nosuch", "json", {}, &out);
  CHECK_EQUAL(::grpc::StatusCode::NOT_FOUND, s.error_code());
  CHECK(h.remove(cid).ok());
}

TEST(AgentApi, UpdateContainerWritesTheCgroupLimits) {
  std::string cid = "c-update";
  createAndStart(cid, {"sleep", "100"});
  ::grpc::LinuxResources r;
  r.mutable_cpu()->set_shares(512);
  r.mutable_cpu()->set_quota(50000);
  r.mutable_cpu()->set_period(100000);
  r.mutable_cpu()->set_cpus("0");
  r.mutable_cpu()->set_mems("0");
  r.mutable_memory()->set_limit(64ll << 20);
  r.mutable_memory()->set_reservation(32ll << 20);
  r.mutable_memory()->set_swap(96ll << 20);
  r.mutable_pids()->set_limit(42);
  auto s = update(cid, r);
  CHECK_TEXT(s.ok(), codeText(s).c_str());
  STRCMP_EQUAL("512", cgroupFile("cpu", cid, "cpu.shares").c_str());
  STRCMP_EQUAL("50000", cgroupFile("cpu", cid, "cpu.cfs_quota_us").c_str());
  STRCMP_EQUAL("100000", cgroupFile("cpu", cid, "cpu.cfs_period_us").c_str());
  STRCMP_EQUAL("0", cgroupFile("cpuset", cid, "cpuset.cpus").c_str());
  STRCMP_EQUAL(std::to_string(64 << 20).c_str(),
               cgroupFile("memory", cid, "memory.limit_in_bytes").c_str());
  STRCMP_EQUAL(std::to_string(32 << 20).c_str(),
               cgroupFile("memory", cid, "memory.soft_limit_in_bytes").c_str());
  STRCMP_EQUAL(std::to_string(96 << 20).c_str(),
               cgroupFile("memory", cid, "memory.memsw.limit_in_bytes").c_str());
  STRCMP_EQUAL("42", cgroupFile("pids", cid, "pids.max").c_str());

  // Raising memory and swap together: swap must be written first; lowering: memory first.
  ::grpc::LinuxResources up;
  up.mutable_memory()->set_limit(1ll << 30);
  up.mutable_memory()->set_swap(2ll << 30);
  s = update(cid, up);
  CHECK_TEXT(s.ok(), codeText(s).c_str());
  STRCMP_EQUAL(std::to_string(1ll << 30).c_str(),
               cgroupFile("memory", cid, "memory.limit_in_bytes").c_str());
  STRCMP_EQUAL(std::to_string(2ll << 30).c_str(),
               cgroupFile("memory", cid, "memory.memsw.limit_in_bytes").c_str());
  ::grpc::LinuxResources down;
  down.mutable_memory()->set_limit(48ll << 20);
  down.mutable_memory()->set_swap(48ll << 20);
  s = update(cid, down);
  CHECK_TEXT(s.ok(), codeText(s).c_str());
  STRCMP_EQUAL(std::to_string(48 << 20).c_str(),
               cgroupFile("memory", cid, "memory.memsw.limit_in_bytes").c_str());

  // Bad values are refused with the file named, and the old value stays.
  ::grpc::LinuxResources bad;
  bad.mutable_cpu()->set_cpus("not-a-cpu-list");
  s = update(cid, bad);
  CHECK_EQUAL(::grpc::StatusCode::INVALID_ARGUMENT, s.error_code());
  CHECK_TEXT(s.error_message().find("cpuset.cpus") != std::string::npos, s.error_message().c_str());
  STRCMP_EQUAL("0", cgroupFile("cpuset", cid, "cpuset.cpus").c_str());
  ::grpc::LinuxResources badPeriod;
  badPeriod.mutable_cpu()->set_period(1);  // below the kernel's 1 ms minimum
  CHECK_EQUAL(::grpc::StatusCode::INVALID_ARGUMENT, update(cid, badPeriod).error_code());
  ::grpc::LinuxResources badHuge;
  badHuge.add_hugepagelimits()->set_pagesize("../2MB");
  CHECK_EQUAL(::grpc::StatusCode::INVALID_ARGUMENT, update(cid, badHuge).error_code());
  CHECK_EQUAL(::grpc::StatusCode::NOT_FOUND, update("nosuch", r).error_code());
  CHECK(h.remove(cid).ok());
}

TEST(AgentApi, MemoryLimitIsEnforcedAndRaisesAnOomEvent) {
  std::string cid = "c-oom";
  createAndStart(cid, {"sleep", "100"});
  ::grpc::LinuxResources r;
  r.mutable_memory()->set_limit(32ll << 20);
  r.mutable_memory()->set_swap(32ll << 20);  // no escape into swap
  auto s = update(cid, r);
  CHECK_TEXT(s.ok(), codeText(s).c_str());

  // Nothing happened yet: GetOOMEvent waits.
  ::grpc::GetOOMEventRequest req;
  ::grpc::OOMEvent event;
  auto ctx0 = deadlineContext(300);
  s = h.agent().GetOOMEvent(ctx0.get(), req, &event);
  CHECK_EQUAL_TEXT(::grpc::StatusCode::DEADLINE_EXCEEDED, s.error_code(),
                   (codeText(s) + " " + event.container_id()).c_str());
  // 64 MiB in a shell variable cannot fit in 32 MiB.
  s = h.exec(cid, "hog",
             {"sh", "-c", "x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo survived"});
  CHECK_TEXT(s.ok(), codeText(s).c_str());
  std::string out = h.readAll(cid, "hog", false);
  CHECK_EQUAL(128 + 9, h.wait(cid, "hog"));
  CHECK_TEXT(out.find("survived") == std::string::npos, out.c_str());
  // The event was queued for the next GetOOMEvent.
  auto ctx1 = deadlineContext(10000);
  s = h.agent().GetOOMEvent(ctx1.get(), req, &event);
  CHECK_TEXT(s.ok(), codeText(s).c_str());
  STRCMP_EQUAL(cid.c_str(), event.container_id().c_str());
  auto st = stats(cid);
  // The usage reached the limit.
  const auto& mem = st.cgroup_stats().memory_stats();
  CHECK_TEXT(mem.usage().max_usage() > (24ull << 20),
             std::to_string(mem.usage().max_usage()).c_str());
  CHECK_EQUAL(32ull << 20, st.cgroup_stats().memory_stats().usage().limit());

  // The container survives (only the hog was killed); no further event is pending. The hog's
  // memory leaves the cgroup asynchronously: the next process waits for it rather than meet a
  // full cgroup (under ASan this exec failed once).
  for (int i = 0; i < 100 && memoryUsage(cid) > (16ull << 20); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  s = h.exec(cid, "ok", {"true"});
  CHECK_TEXT(s.ok(), codeText(s).c_str());
  CHECK_EQUAL(0, h.wait(cid, "ok"));
  auto ctx = deadlineContext(500);
  s = h.agent().GetOOMEvent(ctx.get(), req, &event);
  CHECK_EQUAL_TEXT(::grpc::StatusCode::DEADLINE_EXCEEDED, s.error_code(),
                   (codeText(s) + " " + event.container_id()).c_str());
  CHECK(h.remove(cid).ok());
}

TEST(AgentApi, StatsReportCpuMemoryPidsAndBlkio) {
  std::string cid = "c-stats";
  createAndStart(cid, {"sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 100"});
  CHECK(h.exec(cid, "e1", {"sleep", "100"}).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto st = stats(cid);
  const auto& cg = st.cgroup_stats();
  CHECK(cg.cpu_stats().cpu_usage().total_usage() > 0);
  CHECK(cg.cpu_stats().cpu_usage().percpu_usage_size() > 0);
  CHECK(cg.has_memory_stats());
  CHECK(cg.memory_stats().usage().usage() > 0);
  CHECK_EQUAL(512ull << 20, cg.memory_stats().usage().limit());
  CHECK(cg.memory_stats().stats().count("rss") == 1);
  CHECK_EQUAL(2u, cg.pids_stats().current());
  CHECK_EQUAL(1024u, cg.pids_stats().limit());
  CHECK(cg.has_blkio_stats());
  ::grpc::StatsContainerRequest r;
  r.set_container_id("nosuch");
  ::grpc::StatsContainerResponse resp;
  auto ctx = deadlineContext(5000);
  CHECK_EQUAL(::grpc::StatusCode::NOT_FOUND,
              h.agent().StatsContainer(ctx.get(), r, &resp).error_code());
  CHECK(h.remove(cid).ok());
}
