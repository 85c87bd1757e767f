// The ttrpc glue of the task API: a fake TaskHandler behind a real ttrpc::Server, driven with
// lib/ttrpc_client over a socketpair, as containerd drives the shim.
#include "runtime/containerd-shim-v2/task_handler.h"

#include <sys/socket.h>

#include <cerrno>
#include <mutex>
#include <string>
#include <vector>

#include "lib/parse.h"
#include "lib/ttrpc_client.h"
#include "tests/unit/protobuf_descriptors.h"

// CppUTest comes last: its leak-checking macros redefine operator new.
#include <CppUTest/TestHarness.h>

using namespace kata;
using namespace kata::shimv2;
using ttrpc::Code;

namespace {

// Descriptors built before main: tests/unit/protobuf_descriptors.h.
const bool kDescriptorsBuilt = kata::testing::buildDescriptors<taskapi::WaitRequest>();

// Answers every method; a request id "errno:N" fails with errno N. Records what was called.
class FakeTaskHandler : public TaskHandler {
 public:
  std::vector<std::string> calls;

  template <class Resp, class Req>
  Result<Resp> answer(const char* name, const Req& req) {
    {
      std::lock_guard lock(mu_);
      calls.push_back(name);
    }
    if (req.id().rfind("errno:", 0) == 0) {
      auto code = parseInt<int>(req.id().substr(6), "errno");
      return makeError(std::string(name) + " failed\nsecond line", code.ok() ? *code : 0);
    }
    return Resp();
  }

  Result<taskapi::StateResponse> state(ttrpc::Context& ctx,
                                       const taskapi::StateRequest& req) override {
    auto r = answer<taskapi::StateResponse>("state", req);
    if (r.ok()) {
      r->set_id(req.id());
      r->set_exec_id(req.exec_id());
      r->set_status(containerd::v1::types::RUNNING);
      r->set_pid(4242);
    }
    return r;
  }
  Result<taskapi::CreateTaskResponse> create(ttrpc::Context&,
                                             const taskapi::CreateTaskRequest& req) override {
    auto r = answer<taskapi::CreateTaskResponse>("create", req);
    if (r.ok()) r->set_pid(static_cast<uint32_t>(req.rootfs_size()));
    return r;
  }
  Result<taskapi::StartResponse> start(ttrpc::Context&, const taskapi::StartRequest& r) override {
    return answer<taskapi::StartResponse>("start", r);
  }
  Result<taskapi::DeleteResponse> remove(ttrpc::Context&,
                                         const taskapi::DeleteRequest& r) override {
    return answer<taskapi::DeleteResponse>("remove", r);
  }
  Result<taskapi::PidsResponse> pids(ttrpc::Context&, const taskapi::PidsRequest& r) override {
    return answer<taskapi::PidsResponse>("pids", r);
  }
  Result<Empty> pause(ttrpc::Context&, const taskapi::PauseRequest& r) override {
    return answer<Empty>("pause", r);
  }
  Result<Empty> resume(ttrpc::Context&, const taskapi::ResumeRequest& r) override {
    return answer<Empty>("resume", r);
  }
  Result<Empty> checkpoint(ttrpc::Context&, const taskapi::CheckpointTaskRequest& r) override {
    return answer<Empty>("checkpoint", r);
  }
  Result<Empty> kill(ttrpc::Context&, const taskapi::KillRequest& r) override {
    return answer<Empty>("kill", r);
  }
  Result<Empty> exec(ttrpc::Context&, const taskapi::ExecProcessRequest& r) override {
    return answer<Empty>("exec", r);
  }
  Result<Empty> resizePty(ttrpc::Context&, const taskapi::ResizePtyRequest& r) override {
    return answer<Empty>("resizePty", r);
  }
  Result<Empty> closeIO(ttrpc::Context&, const taskapi::CloseIORequest& r) override {
    return answer<Empty>("closeIO", r);
  }
  Result<Empty> update(ttrpc::Context&, const taskapi::UpdateTaskRequest& r) override {
    return answer<Empty>("update", r);
  }
  Result<taskapi::WaitResponse> wait(ttrpc::Context&, const taskapi::WaitRequest& r) override {
    return answer<taskapi::WaitResponse>("wait", r);
  }
  Result<taskapi::StatsResponse> stats(ttrpc::Context&, const taskapi::StatsRequest& r) override {
    return answer<taskapi::StatsResponse>("stats", r);
  }
  Result<taskapi::ConnectResponse> connect(ttrpc::Context&,
                                           const taskapi::ConnectRequest& r) override {
    return answer<taskapi::ConnectResponse>("connect", r);
  }
  Result<Empty> shutdown(ttrpc::Context&, const taskapi::ShutdownRequest& r) override {
    return answer<Empty>("shutdown", r);
  }

 private:
  std::mutex mu_;
};

// Every request message of the Task service has `string id = 1`.
std::string requestWithId(const std::string& id) {
  return std::string("\x0a", 1) + static_cast<char>(id.size()) + id;
}

struct Fixture {
  FakeTaskHandler handler;
  ttrpc::Server server;
  std::unique_ptr<ttrpc::Client> client;

  Fixture() {
    CHECK_TRUE(registerTaskService(server, handler).ok());
    int fds[2];
    CHECK_EQUAL(0, ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds));
    CHECK_TRUE(server.serveConnection(UniqueFd(fds[0])).ok());
    auto c = ttrpc::Client::fromFd(UniqueFd(fds[1]));
    CHECK_TRUE(c.ok());
    client = std::move(*c);
  }
  ~Fixture() {
    client->close();
    (void)server.stop();
  }
  ttrpc::Reply call(const std::string& method, const std::string& payload) {
    auto r = client->call(kTaskService, method, payload, std::chrono::milliseconds(10000));
    CHECK_TRUE_TEXT(r.ok(), r.ok() ? "" : r.error().str().c_str());
    return *r;
  }
};

}  // namespace

TEST_GROUP(ShimV2TaskHandler){};

TEST(ShimV2TaskHandler, EveryMethodReachesItsHandler) {
  Fixture f;
  const std::vector<std::pair<std::string, std::string>> methods = {
      {"State", "state"},         {"Create", "create"},
      {"Start", "start"},         {"Delete", "remove"},
      {"Pids", "pids"},           {"Pause", "pause"},
      {"Resume", "resume"},       {"Checkpoint", "checkpoint"},
      {"Kill", "kill"},           {"Exec", "exec"},
      {"ResizePty", "resizePty"}, {"CloseIO", "closeIO"},
      {"Update", "update"},       {"Wait", "wait"},
      {"Stats", "stats"},         {"Connect", "connect"},
      {"Shutdown", "shutdown"}};
  LONGS_EQUAL(17, methods.size());
  for (const auto& [rpc, handler] : methods) {
    ttrpc::Reply reply = f.call(rpc, requestWithId("c1"));
    CHECK_TRUE_TEXT(reply.ok(), (rpc + ": " + reply.status.str()).c_str());
    STRCMP_EQUAL(handler.c_str(), f.handler.calls.back().c_str());
  }
  LONGS_EQUAL(17, f.handler.calls.size());
}

TEST(ShimV2TaskHandler, RequestDecodedAndReplyEncoded) {
  Fixture f;
  taskapi::StateRequest req;
  req.set_id("c1");
  req.set_exec_id("e1");
  ttrpc::Reply reply = f.call("State", req.SerializeAsString());
  CHECK_TRUE(reply.ok());
  taskapi::StateResponse resp;
  CHECK_TRUE(resp.ParseFromString(reply.payload));
  STRCMP_EQUAL("c1", resp.id().c_str());
  STRCMP_EQUAL("e1", resp.exec_id().c_str());
  LONGS_EQUAL(4242, resp.pid());
  CHECK(resp.status() == containerd::v1::types::RUNNING);

  taskapi::CreateTaskRequest create;
  create.set_id("c1");
  create.add_rootfs()->set_type("overlay");
  create.add_rootfs()->set_type("bind");
  reply = f.call("Create", create.SerializeAsString());
  taskapi::CreateTaskResponse created;
  CHECK_TRUE(created.ParseFromString(reply.payload));
  LONGS_EQUAL(2, created.pid());
}

TEST(ShimV2TaskHandler, ErrnoMapsToTheCodeContainerdExpects) {
  Fixture f;
  const std::vector<std::pair<int, Code>> table = {{ENOENT, Code::NotFound},
                                                   {ESRCH, Code::NotFound},
                                                   {EEXIST, Code::AlreadyExists},
                                                   {EINVAL, Code::InvalidArgument},
                                                   {ENOTSUP, Code::Unimplemented},
                                                   {ENOSYS, Code::Unimplemented},
                                                   {EBUSY, Code::FailedPrecondition},
                                                   {EALREADY, Code::FailedPrecondition},
                                                   {EAGAIN, Code::Unavailable},
                                                   {ECONNREFUSED, Code::Unavailable},
                                                   {ETIMEDOUT, Code::DeadlineExceeded},
                                                   {ECANCELED, Code::Canceled},
                                                   {EIO, Code::Unknown},
                                                   {0, Code::Unknown}};
  for (const auto& [err, code] : table) {
    ttrpc::Reply reply = f.call("Kill", requestWithId("errno:" + std::to_string(err)));
    CHECK_FALSE(reply.ok());
    CHECK_EQUAL_TEXT(static_cast<int>(code), static_cast<int>(reply.status.code),
                     ("errno " + std::to_string(err)).c_str());
    STRCMP_EQUAL("kill failed second line", reply.status.message.c_str());  // one line
    CHECK_TRUE(code == errorCode(makeError("x", err)));
  }
}

TEST(ShimV2TaskHandler, MalformedRequestIsInvalidArgumentNamingTheMethod) {
  Fixture f;
  ttrpc::Reply reply = f.call("Wait", std::string("\x0a\x7f", 2));  // length past the end
  LONGS_EQUAL(static_cast<int>(Code::InvalidArgument), static_cast<int>(reply.status.code));
  STRCMP_EQUAL("Wait: malformed containerd.task.v2.WaitRequest", reply.status.message.c_str());
  LONGS_EQUAL(0, f.handler.calls.size());
}

TEST(ShimV2TaskHandler, UnknownMethodIsUnimplemented) {
  Fixture f;
  ttrpc::Reply reply = f.call("Frobnicate", requestWithId("c1"));
  LONGS_EQUAL(static_cast<int>(Code::Unimplemented), static_cast<int>(reply.status.code));
  STRCMP_CONTAINS("Frobnicate", reply.status.message.c_str());
  LONGS_EQUAL(0, f.handler.calls.size());
}

TEST(ShimV2TaskHandler, RegisteringTwiceFails) {
  FakeTaskHandler handler;
  ttrpc::Server server;
  CHECK_TRUE(registerTaskService(server, handler).ok());
  CHECK_FALSE(registerTaskService(server, handler).ok());
}
