// kata-agent answers as upstream Kata 1.x's agent (kata-containers/agent 1.12, grpc.go) does for
// the calls of a process that exited: upstream's kata-shim and kata-runtime drive our agent on
// these answers. Real agent on the host, real containers; agent/README.md lists the rules.
#include <signal.h>

#include <chrono>
#include <string>
#include <thread>

#include "agent_harness.h"
#include "lib/mount.h"
#include "protocols/agent_wire.h"

// CppUTest comes last: its leak-checking macros redefine new.
#include <CppUTest/TestHarness.h>

using kata::agenttest::AgentHarness;
using kata::agenttest::deadlineContext;
using namespace std::chrono_literals;

namespace {

std::string codeText(const ::grpc::Status& s) {
  return std::to_string(static_cast<int>(s.error_code())) + " " + s.error_message();
}

}  // namespace

TEST_GROUP(AgentWire) {
  AgentHarness h;
  void setup() override { h.start(); }
  void teardown() override { h.stop(); }

  void createAndStart(const std::string& cid, const std::vector<std::string>& args,
                      bool terminal = false) {
    std::string failed = h.createAndStart(cid, args, terminal);
    CHECK_TEXT(failed.empty(), failed.c_str());
  }
  ::grpc::Status read(const std::string& cid, const std::string& execId, bool stderrStream,
                      std::string* data = nullptr) {
    ::grpc::ReadStreamRequest req;
    req.set_container_id(cid);
    req.set_exec_id(execId);
    req.set_len(4096);
    ::grpc::ReadStreamResponse resp;
    auto ctx = deadlineContext(20000);
    auto s = stderrStream ? h.agent().ReadStderr(ctx.get(), req, &resp)
                          : h.agent().ReadStdout(ctx.get(), req, &resp);
    if (data) *data = resp.data();
    return s;
  }
  ::grpc::Status waitStatus(const std::string& cid, const std::string& execId) {
    ::grpc::WaitProcessRequest req;
    req.set_container_id(cid);
    req.set_exec_id(execId);
    ::grpc::WaitProcessResponse resp;
    auto ctx = deadlineContext(20000);
    return h.agent().WaitProcess(ctx.get(), req, &resp);
  }
  ::grpc::Status writeStdin(const std::string& cid, const std::string& execId,
                            const std::string& data, uint32_t* len = nullptr) {
    ::grpc::WriteStreamRequest req;
    req.set_container_id(cid);
    req.set_exec_id(execId);
    req.set_data(data);
    ::grpc::WriteStreamResponse resp;
    auto ctx = deadlineContext(10000);
    auto s = h.agent().WriteStdin(ctx.get(), req, &resp);
    if (len) *len = resp.len();
    return s;
  }
  ::grpc::Status closeStdin(const std::string& cid, const std::string& execId) {
    ::grpc::CloseStdinRequest req;
    req.set_container_id(cid);
    req.set_exec_id(execId);
    ::google::protobuf::Empty e;
    auto ctx = deadlineContext(10000);
    return h.agent().CloseStdin(ctx.get(), req, &e);
  }
  ::grpc::Status resize(const std::string& cid, const std::string& execId) {
    ::grpc::TtyWinResizeRequest req;
    req.set_container_id(cid);
    req.set_exec_id(execId);
    req.set_row(30);
    req.set_column(90);
    ::google::protobuf::Empty e;
    auto ctx = deadlineContext(10000);
    return h.agent().TtyWinResize(ctx.get(), req, &e);
  }
  /// What upstream's kata-shim does: copy a stream until the first error, which must be the
  /// end of the stream (anything else would be a failed copy).
  std::string copyLikeUpstreamShim(const std::string& cid, const std::string& execId,
                                   bool stderrStream) {
    std::string out;
    for (int i = 0; i < 10000; ++i) {
      std::string data;
      auto s = read(cid, execId, stderrStream, &data);
      if (!s.ok()) {
        CHECK_EQUAL_TEXT(::grpc::StatusCode::UNKNOWN, s.error_code(), codeText(s).c_str());
        STRCMP_EQUAL("EOF", s.error_message().c_str());
        return out;
      }
      // Upstream's shim would copy an empty reply and ask again, for ever.
      CHECK_TEXT(!data.empty(), "an empty reply that is not the end of the stream");
      out += data;
    }
    FAIL("the stream never ended");
    return out;
  }
  void checkNotFound(const ::grpc::Status& s, const char* what) {
    CHECK_EQUAL_TEXT(::grpc::StatusCode::NOT_FOUND, s.error_code(),
                     (std::string(what) + ": " + codeText(s)).c_str());
  }
};

// Upstream's kata-shim: copy stdout and stderr to their end, then WaitProcess, then exit; the
// signals it forwards meanwhile (or after the fact) must not fail.
TEST(AgentWire, UpstreamShimSequenceEndsWithTheExitStatus) {
  std::string cid = "wire-seq";
  createAndStart(cid, {"sh", "-c", "echo out; echo err >&2; exit 3"});
  STRCMP_EQUAL("out\n", copyLikeUpstreamShim(cid, cid, false).c_str());
  // Until its status is collected, the end of a stream stays the end.
  auto s = read(cid, cid, false);
  CHECK_TRUE_TEXT(kata::wire::isEndOfStream(s), codeText(s).c_str());
  STRCMP_EQUAL("err\n", copyLikeUpstreamShim(cid, cid, true).c_str());
  CHECK_EQUAL(3, h.wait(cid, cid));

  // The init exited: a signal to the container is dropped, whatever it names.
  s = h.signal(cid, cid, SIGTERM);
  CHECK_TRUE_TEXT(s.ok(), codeText(s).c_str());
  CHECK_TRUE(h.signal(cid, "", SIGKILL).ok());
  CHECK_TRUE(h.signal(cid, "wire-no-such-exec", SIGKILL).ok());

  // Collected: the process is gone, as upstream's agent deletes it in WaitProcess.
  checkNotFound(read(cid, cid, false), "ReadStdout");
  checkNotFound(read(cid, cid, true), "ReadStderr");
  checkNotFound(waitStatus(cid, cid), "WaitProcess");
  checkNotFound(writeStdin(cid, cid, "x"), "WriteStdin");
  checkNotFound(closeStdin(cid, cid), "CloseStdin");
  checkNotFound(resize(cid, cid), "TtyWinResize");
  CHECK_TRUE(h.remove(cid).ok());
}

TEST(AgentWire, ExecProcessAfterItsExitAndAfterItsStatusWasCollected) {
  std::string cid = "wire-exec";
  createAndStart(cid, {"sleep", "100"});
  CHECK_TRUE(h.exec(cid, "e1", {"sh", "-c", "echo hi"}).ok());
  STRCMP_EQUAL("hi\n", copyLikeUpstreamShim(cid, "e1", false).c_str());
  STRCMP_EQUAL("", copyLikeUpstreamShim(cid, "e1", true).c_str());
  // Exited, status not collected yet: it is still known.
  for (int i = 0; i < 100 && h.signal(cid, "e1", 0).ok(); ++i) std::this_thread::sleep_for(20ms);
  auto s = h.signal(cid, "e1", SIGTERM);
  CHECK_FALSE_TEXT(s.ok(), "a signal to an exited exec'd process is an error");
  CHECK_TRUE(s.error_code() != ::grpc::StatusCode::NOT_FOUND);
  CHECK_TRUE(closeStdin(cid, "e1").ok());
  s = resize(cid, "e1");
  CHECK_EQUAL_TEXT(::grpc::StatusCode::FAILED_PRECONDITION, s.error_code(), codeText(s).c_str());
  CHECK_EQUAL(0, h.wait(cid, "e1"));
  checkNotFound(h.signal(cid, "e1", SIGTERM), "SignalProcess");
  checkNotFound(read(cid, "e1", false), "ReadStdout");
  checkNotFound(closeStdin(cid, "e1"), "CloseStdin");
  // The exec id is free again.
  CHECK_TRUE(h.exec(cid, "e1", {"true"}).ok());
  CHECK_TRUE_TEXT(kata::wire::isEndOfStream(read(cid, "e1", false)), "ReadStdout of e1");
  CHECK_TRUE(kata::wire::isEndOfStream(read(cid, "e1", true)));
  CHECK_EQUAL(0, h.wait(cid, "e1"));

  // Input after CloseStdin is accepted and dropped, as upstream's agent does.
  CHECK_TRUE(h.exec(cid, "e2", {"sleep", "100"}).ok());
  CHECK_TRUE(closeStdin(cid, "e2").ok());
  uint32_t len = 99;
  s = writeStdin(cid, "e2", "late input", &len);
  CHECK_TRUE_TEXT(s.ok(), codeText(s).c_str());
  CHECK_EQUAL(0u, len);
  CHECK_TRUE(h.signal(cid, "e2", SIGKILL).ok());
  CHECK_EQUAL(128 + SIGKILL, h.wait(cid, "e2"));
  CHECK_TRUE(h.remove(cid).ok());
}

TEST(AgentWire, TerminalProcessHasNoStderrAndEndsWithEof) {
  std::string cid = "wire-tty";
  createAndStart(cid, {"sh", "-c", "echo tty-out"}, true);
  auto s = read(cid, "", true);  // a terminal merges stderr into stdout
  CHECK_TRUE_TEXT(kata::wire::isEndOfStream(s), codeText(s).c_str());
  std::string out = copyLikeUpstreamShim(cid, "", false);
  STRCMP_EQUAL("tty-out\r\n", out.c_str());
  CHECK_EQUAL(0, h.wait(cid, ""));
  checkNotFound(resize(cid, ""), "TtyWinResize");
  CHECK_TRUE(h.remove(cid).ok());
}

TEST(AgentWire, UnknownContainerAndExecIds) {
  checkNotFound(read("wire-nosuch", "", false), "ReadStdout");
  checkNotFound(waitStatus("wire-nosuch", ""), "WaitProcess");
  checkNotFound(closeStdin("wire-nosuch", ""), "CloseStdin");
  checkNotFound(resize("wire-nosuch", ""), "TtyWinResize");
  checkNotFound(writeStdin("wire-nosuch", "", "x"), "WriteStdin");
  checkNotFound(h.exec("wire-nosuch", "e", {"true"}), "ExecProcess");
  // Upstream's agent wraps the lookup: "could not signal process".
  auto s = h.signal("wire-nosuch", "", SIGKILL);
  CHECK_EQUAL_TEXT(::grpc::StatusCode::FAILED_PRECONDITION, s.error_code(), codeText(s).c_str());

  std::string cid = "wire-ids";
  createAndStart(cid, {"sleep", "100"});
  checkNotFound(read(cid, "wire-no-exec", false), "ReadStdout");
  checkNotFound(waitStatus(cid, "wire-no-exec"), "WaitProcess");
  checkNotFound(h.signal(cid, "wire-no-exec", SIGKILL), "SignalProcess");
  checkNotFound(closeStdin(cid, "wire-no-exec"), "CloseStdin");
  checkNotFound(resize(cid, "wire-no-exec"), "TtyWinResize");
  checkNotFound(writeStdin(cid, "wire-no-exec", "x"), "WriteStdin");
  CHECK_TRUE(h.remove(cid).ok());
}

// Upstream's runtime removes the pid namespace from the spec, and upstream's agent gives every
// container one of its own (or the sandbox's): never the agent's.
TEST(AgentWire, SpecWithoutAPidNamespaceStillGetsOne) {
  std::string cid = "wire-pidns";
  h.makeRootfs(cid);
  auto spec = h.makeSpec(cid, {"sh", "-c", "echo pid=$$"});
  auto* namespaces = spec.mutable_linux()->mutable_namespaces();
  for (int i = namespaces->size() - 1; i >= 0; --i) {
    if (namespaces->Get(i).type() == "pid") namespaces->DeleteSubrange(i, 1);
  }
  auto s = h.create(cid, spec);
  CHECK_TEXT(s.ok(), (codeText(s) + "\n" + h.agentLog()).c_str());
  CHECK_TRUE(h.start(cid).ok());
  STRCMP_EQUAL("pid=1\n", h.readAll(cid, "", false).c_str());
  CHECK_EQUAL(0, h.wait(cid, ""));
  CHECK_TRUE(h.remove(cid).ok());
}

// A background child that keeps the output open does not keep the stream (and the shim that
// reads it, and `docker exec`) alive: it ends a grace period after the process exited. Upstream's
// agent waits for the child; ours gives Process::kOutputGrace, like Docker's own exec grace.
TEST(AgentWire, OutputHeldByABackgroundChildEndsAfterTheGrace) {
  std::string cid = "wire-grace";
  createAndStart(cid, {"sleep", "100"});
  CHECK_TRUE(h.exec(cid, "bg", {"sh", "-c", "sleep 60 & echo started; exit 4"}).ok());
  auto t0 = std::chrono::steady_clock::now();
  STRCMP_EQUAL("started\n", copyLikeUpstreamShim(cid, "bg", false).c_str());
  STRCMP_EQUAL("", copyLikeUpstreamShim(cid, "bg", true).c_str());
  auto waited = std::chrono::steady_clock::now() - t0;
  CHECK_EQUAL(4, h.wait(cid, "bg"));
  CHECK_TRUE_TEXT(waited >= 4s && waited < 20s, "the stream ended outside the grace period");
  CHECK_TRUE(h.remove(cid).ok());  // kills the sleep
}

// CreateSandbox as upstream's runtime sends it: the modules of [agent.kata] kernel_modules
// (loaded before the storages, which may need them), a storage whose mount point ends with '/'
// (upstream's agent creates the mount point from the part before the last '/') and whose
// options are upstream's ("a=1,b=2" data in one item, flag words). In host test mode only modules
// already in the kernel are accepted.
TEST(AgentWire, CreateSandboxAsUpstreamsRuntimeSendsIt) {
  ::grpc::CreateSandboxRequest sb;
  sb.set_sandbox_id("wire-sb");
  auto* km = sb.add_kernel_modules();
  km->set_name("wire-no-such-module");
  ::google::protobuf::Empty e;
  auto ctx = deadlineContext(10000);
  auto s = h.agent().CreateSandbox(ctx.get(), sb, &e);
  CHECK_EQUAL_TEXT(::grpc::StatusCode::NOT_FOUND, s.error_code(), codeText(s).c_str());
  STRCMP_CONTAINS("wire_no_such_module", s.error_message().c_str());

  km->set_name("printk");  // built into every kernel
  km->add_parameters("time=1");
  auto* st = sb.add_storages();
  st->set_driver("ephemeral");
  st->set_source("tmpfs");
  st->set_fstype("tmpfs");
  st->add_options("mode=0755,size=1m");  // file system data, one item
  st->add_options("nodev");
  std::string mountPoint = h.base() + "/wire-shared/containers/";
  st->set_mount_point(mountPoint);
  auto ctx2 = deadlineContext(10000);
  s = h.agent().CreateSandbox(ctx2.get(), sb, &e);
  CHECK_TEXT(s.ok(), (codeText(s) + "\n" + h.agentLog()).c_str());
  auto mounted = kata::mount::isMountPoint(h.base() + "/wire-shared/containers");
  CHECK_TRUE(mounted.ok() && *mounted);
  ::grpc::DestroySandboxRequest d;
  auto ctx3 = deadlineContext(30000);
  CHECK_TRUE(h.agent().DestroySandbox(ctx3.get(), d, &e).ok());
}
