// kata-agent component tests: the real binary on the host (as root, unix-socket mode), a gRPC
// client, containers from a busybox-static rootfs. No VM.
#include <grpcpp/generic/generic_stub.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <thread>

#include "agent_harness.h"
#include "lib/fs_util.h"
#include "lib/mount.h"
#include "protocols/agent_wire.h"

// CppUTest comes last: its leak-checking macros redefine new.
#include <CppUTest/TestHarness.h>

using kata::agenttest::AgentHarness;
using kata::agenttest::deadlineContext;

namespace {

std::string codeText(const ::grpc::Status& s) {
  return std::to_string(static_cast<int>(s.error_code())) + " " + s.error_message();
}

bool exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace

TEST_GROUP(Agent) {
  AgentHarness h;
  void setup() override { h.start(); }
  void teardown() override { h.stop(); }

  void createAndStart(const std::string& cid, const std::vector<std::string>& args,
                      bool terminal = false) {
    std::string failed = h.createAndStart(cid, args, terminal);
    CHECK_TEXT(failed.empty(), failed.c_str());
  }
};

TEST(Agent, HealthCheckAndVersion) {
  ::grpc::CheckRequest req;
  ::grpc::HealthCheckResponse resp;
  auto ctx = deadlineContext(5000);
  CHECK(h.health().Check(ctx.get(), req, &resp).ok());
  CHECK_EQUAL(::grpc::HealthCheckResponse::SERVING, resp.status());
  ::grpc::VersionCheckResponse v;
  auto ctx2 = deadlineContext(5000);
  CHECK(h.health().Version(ctx2.get(), req, &v).ok());
  CHECK(!v.agent_version().empty());
}

TEST(Agent, CreateWaitsForStartThenRunsAndReportsExitCode) {
  std::string cid = "c-exit";
  h.makeRootfs(cid);
  auto s = h.create(cid, h.makeSpec(cid, {"sh", "-c", "echo hello; echo oops >&2; exit 3"}));
  CHECK_TEXT(s.ok(), codeText(s).c_str());
  // Created, not started: no output may appear yet.
  ::grpc::ReadStreamRequest rr;
  rr.set_container_id(cid);
  rr.set_len(100);
  ::grpc::ReadStreamResponse out;
  auto ctx = deadlineContext(500);
  auto early = h.agent().ReadStdout(ctx.get(), rr, &out);
  CHECK_EQUAL(::grpc::StatusCode::DEADLINE_EXCEEDED, early.error_code());
  s = h.start(cid);
  CHECK_TEXT(s.ok(), codeText(s).c_str());
  STRCMP_EQUAL("hello\n", h.readAll(cid, "", false).c_str());
  STRCMP_EQUAL("oops\n", h.readAll(cid, cid, true).c_str());
  CHECK_EQUAL(3, h.wait(cid, ""));
  CHECK_EQUAL(-1000, h.wait(cid, cid));  // collected and read: the process is gone (upstream)
  s = h.remove(cid);
  CHECK_TEXT(s.ok(), codeText(s).c_str());
  CHECK(!exists(std::string("/sys/fs/cgroup/pids") + kata::agenttest::testCgroupParent() + "/" +
                cid));
  auto gone = h.readAll(cid, "", false, &s);
  CHECK_EQUAL(::grpc::StatusCode::NOT_FOUND, s.error_code());
}

TEST(Agent, ContainerSeesItsOwnNamespacesAndMounts) {
  std::string cid = "c-view";
  createAndStart(cid, {"sh", "-c",
                       "echo pid=$$; hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo;"
                       " ls /sys/fs/cgroup/pids/pids.max >/dev/null && echo cg=ok;"
                       " echo keys=$(cat /proc/keys | wc -c) fw=$(ls /sys/firmware | wc -l); touch "
                       "/proc/sys/x 2>/dev/null || echo ro=ok;"
                       " ulimit -n; grep Cap[EP] /proc/self/status"});
  std::string out = h.readAll(cid, "", false);
  CHECK_EQUAL(0, h.wait(cid, ""));
  CHECK_TEXT(out.find("pid=1\n") != std::string::npos, out.c_str());
  CHECK_TEXT(out.find("testhost\n") != std::string::npos, out.c_str());
  CHECK_TEXT(out.find("cg=ok\n") != std::string::npos, out.c_str());
  CHECK_TEXT(out.find("keys=0 fw=0\n") != std::string::npos, out.c_str());  // masked paths
  CHECK_TEXT(out.find("ro=ok\n") != std::string::npos, out.c_str());
  CHECK_TEXT(out.find("1024\n") != std::string::npos, out.c_str());
  // The 14 default capabilities: CAP_CHOWN..CAP_SETFCAP = 0xa80425fb.
  CHECK_TEXT(out.find("00000000a80425fb") != std::string::npos, out.c_str());
  CHECK(h.remove(cid).ok());
}

TEST(Agent, SeccompProfileFromTheSpecIsEnforced) {
  std::string cid = "c-seccomp";
  h.makeRootfs(cid);
  auto spec = h.makeSpec(cid, {"sh", "-c", "mkdir /tmp/denied || echo denied; echo after"});
  auto* sc = spec.mutable_linux()->mutable_seccomp();
  sc->set_defaultaction("SCMP_ACT_ALLOW");
  sc->add_architectures("SCMP_ARCH_X86_64");
  auto* rule = sc->add_syscalls();
  rule->add_names("mkdir");
  rule->add_names("mkdirat");
  rule->set_action("SCMP_ACT_ERRNO");
  auto s = h.create(cid, spec);
  CHECK_TEXT(s.ok(), codeText(s).c_str());
  CHECK(h.start(cid).ok());
  std::string out = h.readAll(cid, "", false);
  CHECK_EQUAL(0, h.wait(cid, ""));
  STRCMP_EQUAL("denied\nafter\n", out.c_str());
  CHECK(h.remove(cid).ok());
}

TEST(Agent, ExecSignalAndWait) {
  std::string cid = "c-exec";
  createAndStart(cid, {"sh", "-c", "trap 'exit 7' TERM; while true; do sleep 0.05; done"});
  auto s = h.exec(cid, "e1", {"sh", "-c", "hostname; echo $$"});
  CHECK_TEXT(s.ok(), codeText(s).c_str());
  std::string out = h.readAll(cid, "e1", false);
  CHECK_TEXT(out.rfind("testhost\n", 0) == 0, out.c_str());
  CHECK_EQUAL(0, h.wait(cid, "e1"));

  CHECK(h.exec(cid, "e2", {"sleep", "100"}).ok());
  s = h.exec(cid, "e2", {"true"});
  CHECK_EQUAL(::grpc::StatusCode::ALREADY_EXISTS, s.error_code());
  CHECK(h.signal(cid, "e2", SIGKILL).ok());
  CHECK_EQUAL(128 + SIGKILL, h.wait(cid, "e2"));

  CHECK(h.exec(cid, "e3", {"sh", "-c", "kill -9 $$"}).ok());
  CHECK_EQUAL(137, h.wait(cid, "e3"));

  CHECK(h.signal(cid, cid, SIGTERM).ok());  // the init (exec id = container id) traps TERM
  CHECK_EQUAL(7, h.wait(cid, ""));
  s = h.exec(cid, "e4", {"true"});
  CHECK_EQUAL(::grpc::StatusCode::FAILED_PRECONDITION, s.error_code());
  CHECK(h.remove(cid).ok());
}

// kill without --all reaches the init only; an empty exec id (kill --all) reaches every process.
TEST(Agent, EmptyExecIdSignalsEveryProcessOfTheContainer) {
  std::string cid = "c-killall";
  createAndStart(cid, {"sh", "-c", "trap '' TERM; while true; do sleep 0.05; done"});
  CHECK(h.exec(cid, "e1", {"sleep", "100"}).ok());
  CHECK(h.signal(cid, cid, SIGTERM).ok());  // the init ignores it; e1 never sees it
  CHECK(h.signal(cid, "e1", 0).ok());       // signal 0: e1 is still there
  CHECK(h.signal(cid, "", SIGTERM).ok());
  CHECK_EQUAL(128 + SIGTERM, h.wait(cid, "e1"));
  CHECK(h.signal(cid, cid, 0).ok());  // the init ignored TERM
  CHECK(h.signal(cid, "", SIGKILL).ok());
  CHECK_EQUAL(128 + SIGKILL, h.wait(cid, ""));
  auto s = h.signal(cid, "", SIGKILL);  // the container stopped: dropped, as upstream's agent
  CHECK_TEXT(s.ok(), codeText(s).c_str());
  CHECK(h.remove(cid).ok());
}

TEST(Agent, StdinIsStreamedAndClosed) {
  std::string cid = "c-stdin";
  createAndStart(cid, {"sh", "-c", "cat; echo done"});
  ::grpc::WriteStreamRequest w;
  w.set_container_id(cid);
  w.set_data(std::string(100000, 'x') + "\n");
  ::grpc::WriteStreamResponse wr;
  auto ctx = deadlineContext(10000);
  std::string out;
  std::thread reader([&] { out = h.readAll(cid, "", false); });
  auto s = h.agent().WriteStdin(ctx.get(), w, &wr);
  CHECK_TEXT(s.ok(), codeText(s).c_str());
  CHECK_EQUAL(100001u, wr.len());
  ::grpc::CloseStdinRequest c;
  c.set_container_id(cid);
  ::google::protobuf::Empty e;
  auto ctx2 = deadlineContext(10000);
  CHECK(h.agent().CloseStdin(ctx2.get(), c, &e).ok());
  reader.join();
  CHECK_EQUAL(0, h.wait(cid, ""));
  CHECK_EQUAL(100001u + 5u, out.size());
  CHECK(out.substr(out.size() - 5) == "done\n");
  CHECK(h.remove(cid).ok());
}

TEST(Agent, FiftyMiBOfOutput) {
  std::string cid = "c-big";
  createAndStart(cid, {"head", "-c", "52428800", "/dev/zero"});
  auto t0 = std::chrono::steady_clock::now();
  ::grpc::Status s;
  std::string out = h.readAll(cid, "", false, &s);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  CHECK_TEXT(kata::wire::isEndOfStream(s), codeText(s).c_str());
  CHECK_EQUAL(52428800u, out.size());
  CHECK(out.find_first_not_of('\0') == std::string::npos);
  CHECK_EQUAL(0, h.wait(cid, ""));
  fprintf(stderr, " [50 MiB read in %lld ms] ", static_cast<long long>(ms));
  CHECK(h.remove(cid).ok());
}

TEST(Agent, SlowReaderBlocksTheProcessAndLosesNothing) {
  std::string cid = "c-slow";
  // 8 MiB is far more than the pipe plus the agent's buffer: the writer must block.
  createAndStart(cid, {"sh", "-c", "head -c 8388608 /dev/zero | tr '\\0' a; exit 5"});
  CHECK_EQUAL(-1000, h.wait(cid, "", 1500));  // still blocked in write()
  std::string out = h.readAll(cid, "", false);
  CHECK_EQUAL(8388608u, out.size());
  CHECK(out.find_first_not_of('a') == std::string::npos);
  CHECK_EQUAL(5, h.wait(cid, ""));
  CHECK(h.remove(cid).ok());
}

// Waited for before anyone read: unlike upstream's agent, which closes the output there, ours
// keeps it until it is read, and forgets the process only then.
TEST(Agent, OutputOfAnExitedProcessIsKeptUntilRead) {
  std::string cid = "c-kept";
  createAndStart(cid, {"sh", "-c", "head -c 300000 /dev/zero | tr '\\0' b; echo err >&2"});
  CHECK_EQUAL(0, h.wait(cid, ""));  // exits before anyone reads
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ::grpc::Status s;
  CHECK_EQUAL(300000u, h.readAll(cid, "", false, &s).size());
  CHECK_TEXT(kata::wire::isEndOfStream(s), codeText(s).c_str());
  // Until stderr is read as well, the end of stdout stays the end.
  CHECK_EQUAL(0u, h.readAll(cid, "", false, &s).size());
  CHECK_TEXT(kata::wire::isEndOfStream(s), codeText(s).c_str());
  STRCMP_EQUAL("err\n", h.readAll(cid, "", true).c_str());
  CHECK_EQUAL(0u, h.readAll(cid, "", false, &s).size());
  CHECK_EQUAL(::grpc::StatusCode::NOT_FOUND, s.error_code());
  CHECK(h.remove(cid).ok());
}

TEST(Agent, TerminalWithResize) {
  std::string cid = "c-tty";
  createAndStart(
      cid, {"sh", "-c", "tty; stty size; read x; stty size; echo got:$x; [ -t 0 ] && echo istty"},
      true);
  std::string out;
  // First line: the initial size from the spec.
  for (int i = 0; i < 100 && out.find("24 80") == std::string::npos; ++i) {
    ::grpc::ReadStreamRequest rr;
    rr.set_container_id(cid);
    rr.set_len(1024);
    ::grpc::ReadStreamResponse resp;
    auto ctx = deadlineContext(10000);
    CHECK(h.agent().ReadStdout(ctx.get(), rr, &resp).ok());
    out += resp.data();
  }
  CHECK_TEXT(out.find("24 80") != std::string::npos, out.c_str());
  ::grpc::TtyWinResizeRequest rz;
  rz.set_container_id(cid);
  rz.set_row(40);
  rz.set_column(100);
  ::google::protobuf::Empty e;
  auto ctx = deadlineContext(5000);
  CHECK(h.agent().TtyWinResize(ctx.get(), rz, &e).ok());
  ::grpc::WriteStreamRequest w;
  w.set_container_id(cid);
  w.set_data("hi\n");
  ::grpc::WriteStreamResponse wr;
  auto ctx2 = deadlineContext(5000);
  CHECK(h.agent().WriteStdin(ctx2.get(), w, &wr).ok());
  out += h.readAll(cid, "", false);
  CHECK_TEXT(out.find("40 100") != std::string::npos, out.c_str());
  CHECK_TEXT(out.find("got:hi") != std::string::npos, out.c_str());
  CHECK_TEXT(out.find("istty") != std::string::npos, out.c_str());
  // The pty comes from the container's own devpts instance.
  CHECK_TEXT(out.rfind("/dev/pts/0\r\n", 0) == 0, out.c_str());
  ::grpc::Status s;
  CHECK_EQUAL(0u, h.readAll(cid, "", true, &s).size());  // a terminal has no stderr
  CHECK_TEXT(kata::wire::isEndOfStream(s), codeText(s).c_str());
  CHECK_EQUAL(0, h.wait(cid, ""));
  CHECK(h.remove(cid).ok());
}

TEST(Agent, ExecTerminalIsInTheContainersDevpts) {
  std::string cid = "c-exectty";
  createAndStart(cid, {"sleep", "100"});
  ::grpc::StringUser user;
  user.set_uid("tester");
  auto s = h.exec(cid, "t1", {"sh", "-c", "tty; ls -l $(tty); ps -o pid,tty,args"}, true, &user);
  CHECK_TEXT(s.ok(), codeText(s).c_str());
  std::string out = h.readAll(cid, "t1", false);
  CHECK_EQUAL(0, h.wait(cid, "t1"));
  CHECK_TEXT(out.rfind("/dev/pts/", 0) == 0, out.c_str());
  CHECK_TEXT(out.find(" tester ") != std::string::npos, out.c_str());  // slave owned by the user
  // ps resolves the controlling terminal of the exec'd shell in the container's /dev/pts.
  CHECK_TEXT(out.find("pts/0") != std::string::npos, out.c_str());
  // A container without devpts cannot have a terminal: clear error, nothing leaks.
  CHECK(h.remove(cid).ok());
  std::string cid2 = "c-nopts";
  h.makeRootfs(cid2);
  auto spec = h.makeSpec(cid2, {"tty"}, true);
  for (int i = 0; i < spec.mounts_size(); ++i) {
    if (spec.mounts(i).type() == "devpts") spec.mutable_mounts(i)->set_destination("/mnt/pts");
  }
  s = h.create(cid2, spec);
  CHECK_EQUAL(::grpc::StatusCode::NOT_FOUND, s.error_code());
  CHECK_TEXT(s.error_message().find("terminal") != std::string::npos, s.error_message().c_str());
  CHECK_EQUAL(::grpc::StatusCode::NOT_FOUND, h.start(cid2).error_code());
}

TEST(Agent, UsersGroupsAndBindMounts) {
  std::string cid = "c-user";
  h.makeRootfs(cid);
  std::string shared = h.sharedDir() + "/" + cid + "-abc123-data.txt";
  {
    std::ofstream f(shared);
    f << "shared-content\n";
  }
  auto spec = h.makeSpec(cid, {"sleep", "100"});
  auto* m = spec.add_mounts();
  m->set_destination("/data/file.txt");
  m->set_type("bind");
  m->set_source(shared);
  m->add_options("rbind");
  m->add_options("ro");
  CHECK(h.create(cid, spec).ok());
  CHECK(h.start(cid).ok());
  ::grpc::StringUser user;
  user.set_uid("tester");
  user.add_additionalgids("extra");
  CHECK(h.exec(cid, "id",
               {"sh", "-c",
                "id -u; id -g; id -G; cat /data/file.txt;"
                " echo x > /data/file.txt 2>/dev/null || echo ro;"
                " echo $HOME"},
               false, &user)
            .ok());
  std::string out = h.readAll(cid, "id", false);
  CHECK_EQUAL(0, h.wait(cid, "id"));
  STRCMP_EQUAL("1000\n1000\n1000 2000\nshared-content\nro\n/home/tester\n", out.c_str());
  user.set_uid("nosuchuser");
  auto s = h.exec(cid, "bad", {"id"}, false, &user);
  CHECK_EQUAL(::grpc::StatusCode::NOT_FOUND, s.error_code());
  CHECK(s.error_message().find("nosuchuser") != std::string::npos);
  CHECK(h.remove(cid).ok());
}

TEST(Agent, SymlinkInRootfsCannotRedirectMountsOutside) {
  std::string cid = "c-escape";
  std::string root = h.makeRootfs(cid);
  std::string outside = h.base() + "/outside";
  CHECK(kata::mkdirAll(outside, 0755).ok());
  // An absolute symlink pointing at a host directory: it must resolve inside the rootfs.
  CHECK_EQUAL(0, ::symlink(outside.c_str(), (root + "/evil").c_str()));
  auto spec = h.makeSpec(cid, {"sh", "-c", "ls -d /evil/mnt && echo inside"});
  auto* m = spec.add_mounts();
  m->set_destination("/evil/mnt");
  m->set_type("tmpfs");
  m->set_source("tmpfs");
  CHECK(h.create(cid, spec).ok());
  CHECK(h.start(cid).ok());
  std::string out = h.readAll(cid, "", false);
  CHECK_EQUAL(0, h.wait(cid, ""));
  CHECK(out.find("inside") != std::string::npos);
  CHECK_TEXT(!exists(outside + "/mnt"), "mount target created outside the rootfs");
  CHECK(h.remove(cid).ok());
}

TEST(Agent, BadRequestsGetClearErrorsAndTheAgentKeepsServing) {
  ::grpc::Status s;
  // Unknown and invalid ids.
  s = h.start("nosuch");
  CHECK_EQUAL(::grpc::StatusCode::NOT_FOUND, s.error_code());
  s = h.start("../x");
  CHECK_EQUAL(::grpc::StatusCode::INVALID_ARGUMENT, s.error_code());
  h.readAll("nosuch", "", false, &s);
  CHECK_EQUAL(::grpc::StatusCode::NOT_FOUND, s.error_code());
  CHECK_EQUAL(-1000, h.wait("nosuch", ""));
  s = h.signal("nosuch", "", 9);  // as upstream's agent: "could not signal"
  CHECK_EQUAL(::grpc::StatusCode::FAILED_PRECONDITION, s.error_code());
  s = h.exec("nosuch", "e", {"true"});
  CHECK_EQUAL(::grpc::StatusCode::NOT_FOUND, s.error_code());

  std::string cid = "c-bad";
  h.makeRootfs(cid);
  auto spec = h.makeSpec(cid, {"true"});
  spec.mutable_root()->set_path(h.sharedDir() + "/" + cid + "/rootfs/../../..");
  s = h.create(cid, spec);
  CHECK_EQUAL(::grpc::StatusCode::INVALID_ARGUMENT, s.error_code());
  CHECK(s.error_message().find("..") != std::string::npos);

  spec = h.makeSpec(cid, {"true"});
  spec.mutable_mounts(0)->set_destination("/../../etc");
  s = h.create(cid, spec);
  CHECK_EQUAL(::grpc::StatusCode::INVALID_ARGUMENT, s.error_code());

  spec = h.makeSpec(cid, {"true"});
  auto* m = spec.add_mounts();
  m->set_destination("/x");
  m->set_type("bind");
  m->set_source("/nonexistent/source");
  s = h.create(cid, spec);
  CHECK_EQUAL(::grpc::StatusCode::NOT_FOUND, s.error_code());

  spec = h.makeSpec(cid, {"true"});
  spec.mutable_process()->clear_args();
  s = h.create(cid, spec);
  CHECK_EQUAL(::grpc::StatusCode::INVALID_ARGUMENT, s.error_code());

  spec = h.makeSpec(cid, {"true"});
  (*spec.mutable_linux()->mutable_sysctl())["vm.swappiness"] = "10";
  s = h.create(cid, spec);
  CHECK_EQUAL(::grpc::StatusCode::PERMISSION_DENIED, s.error_code());

  ::grpc::CreateContainerRequest huge;
  huge.set_container_id(std::string(5000, 'a'));
  auto ctx = deadlineContext(5000);
  ::google::protobuf::Empty e;
  s = h.agent().CreateContainer(ctx.get(), huge, &e);
  CHECK_EQUAL(::grpc::StatusCode::INVALID_ARGUMENT, s.error_code());

  // A missing executable fails at CreateContainer, as under runc and in runc's words (Docker
  // matches them for exit code 127); nothing is left: the id can be created again.
  spec = h.makeSpec(cid, {"/no/such/binary"});
  s = h.create(cid, spec);
  CHECK(!s.ok());
  CHECK_TEXT(s.error_message().find("exec \"/no/such/binary\": no such file or directory") !=
                 std::string::npos,
             s.error_message().c_str());
  CHECK(!exists(std::string("/sys/fs/cgroup/memory") + kata::agenttest::testCgroupParent() + "/" +
                cid));
  spec = h.makeSpec(cid, {"true"});
  s = h.create(cid, spec);
  CHECK_TEXT(s.ok(), codeText(s).c_str());
  s = h.create(cid, spec);
  CHECK_EQUAL(::grpc::StatusCode::ALREADY_EXISTS, s.error_code());
  CHECK(h.signal(cid, "", 999).error_code() == ::grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(h.remove(cid).ok());
  CHECK(!exists(std::string("/sys/fs/cgroup/memory") + kata::agenttest::testCgroupParent() + "/" +
                cid));

  ::grpc::CheckRequest req;
  ::grpc::HealthCheckResponse resp;
  auto ctx2 = deadlineContext(5000);
  CHECK(h.health().Check(ctx2.get(), req, &resp).ok());
}

namespace {

// Protobuf wire encoding by hand, from the upstream field numbers (kata agent.proto/oci.proto),
// independent of our generated code.
std::string varint(uint64_t v) {
  std::string out;
  do {
    uint8_t b = v & 0x7f;
    v >>= 7;
    out += static_cast<char>(v ? (b | 0x80) : b);
  } while (v);
  return out;
}
std::string field(int num, const std::string& bytes) {
  return varint(static_cast<uint64_t>(num) << 3 | 2) + varint(bytes.size()) + bytes;
}

}  // namespace

TEST(Agent, WireRequestEncodedFromTheUpstreamDefinitionDecodes) {
  std::string cid = "c-wire";
  std::string root = h.makeRootfs(cid);
  // Process{Args=4: "echo" "wire-ok", Env=5: "PATH=/bin", Cwd=6: "/"}
  std::string process =
      field(4, "echo") + field(4, "wire-ok") + field(5, "PATH=/bin") + field(6, "/");
  // Linux{Namespaces=6: [{Type=1:"mount"}, {Type=1:"pid"}], CgroupsPath=5}
  std::string linux = field(5, kata::agenttest::testCgroupParent() + "/" + cid) +
                      field(6, field(1, "mount")) + field(6, field(1, "pid"));
  // Spec{Version=1, Process=2, Root=3{Path=1}, Hostname=4, Linux=8}
  std::string spec = field(1, "1.0.1") + field(2, process) + field(3, field(1, root)) +
                     field(4, "wire") + field(8, linux);
  // CreateContainerRequest{container_id=1, exec_id=2, OCI=6}
  std::string request = field(1, cid) + field(2, cid) + field(6, spec);

  ::grpc::GenericStub stub(h.channel());
  ::grpc::Slice slice(request);
  ::grpc::ByteBuffer in(&slice, 1);
  ::grpc::ByteBuffer out;
  ::grpc::ClientContext ctx;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  ::grpc::Status status;
  stub.UnaryCall(&ctx, "/grpc.AgentService/CreateContainer", ::grpc::StubOptions(), &in, &out,
                 [&](::grpc::Status s) {
                   std::lock_guard<std::mutex> l(mu);
                   status = s;
                   done = true;
                   cv.notify_all();
                 });
  {
    std::unique_lock<std::mutex> l(mu);
    cv.wait_for(l, std::chrono::seconds(30), [&] { return done; });
  }
  CHECK(done);
  CHECK_TEXT(status.ok(), codeText(status).c_str());
  CHECK(h.start(cid).ok());
  STRCMP_EQUAL("wire-ok\n", h.readAll(cid, "", false).c_str());
  CHECK_EQUAL(0, h.wait(cid, ""));
  CHECK(h.remove(cid).ok());
}

TEST(Agent, SandboxWithSharedPidNamespace) {
  ::grpc::CreateSandboxRequest sb;
  sb.set_hostname("podhost");
  sb.set_sandbox_id("sb1");
  sb.set_sandbox_pidns(true);
  auto* st = sb.add_storages();
  st->set_driver("ephemeral");
  st->set_source("tmpfs");
  st->set_fstype("tmpfs");
  st->set_mount_point(h.base() + "/ephemeral");
  ::google::protobuf::Empty e;
  auto ctx = deadlineContext(10000);
  auto s = h.agent().CreateSandbox(ctx.get(), sb, &e);
  CHECK_TEXT(s.ok(), codeText(s).c_str());
  auto mounted = kata::mount::isMountPoint(h.base() + "/ephemeral");
  CHECK(mounted.ok() && *mounted);

  for (const char* cid : {"p1", "p2"}) {
    h.makeRootfs(cid);
    ::grpc::CreateContainerRequest req;
    req.set_container_id(cid);
    req.set_sandbox_pidns(true);
    *req.mutable_oci() = h.makeSpec(cid, {"sleep", "100"});
    auto c = deadlineContext(30000);
    s = h.agent().CreateContainer(c.get(), req, &e);
    CHECK_TEXT(s.ok(), codeText(s).c_str());
    CHECK(h.start(cid).ok());
  }
  // Both sleeps share one pid namespace: p2 sees p1's process.
  CHECK(h.exec("p2", "ps", {"sh", "-c", "ls /proc | grep -c '^[0-9]'"}).ok());
  std::string out = h.readAll("p2", "ps", false);
  CHECK_EQUAL(0, h.wait("p2", "ps"));
  CHECK_TEXT(std::stoi(out) >= 3, out.c_str());  // holder + two sleeps (+ the sh itself)

  ::grpc::DestroySandboxRequest d;
  auto ctx3 = deadlineContext(30000);
  s = h.agent().DestroySandbox(ctx3.get(), d, &e);
  CHECK_TEXT(s.ok(), codeText(s).c_str());
  mounted = kata::mount::isMountPoint(h.base() + "/ephemeral");
  CHECK(mounted.ok() && !*mounted);
  CHECK_EQUAL(-1000, h.wait("p1", ""));  // gone
}
