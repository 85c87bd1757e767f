// The ttrpc server over real sockets: raw frames from a misbehaving client (RawPeer), and our
// Client for the ordinary calls.
#include "lib/ttrpc_server.h"

#include <sys/stat.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "lib/temp_dir.h"
#include "lib/ttrpc_client.h"
#include "tests/unit/lib/ttrpc_test_peer.h"

// CppUTest comes last: its leak-checking macros redefine operator new.
#include <CppUTest/TestHarness.h>

using namespace kata;
using namespace kata::ttrpc;
using namespace kata::ttrpc::testing;
using namespace std::chrono_literals;

namespace {

constexpr const char* kService = "test.Echo";

// What the handlers saw, for the tests to check.
struct Observed {
  std::atomic<bool> releaseSlow{false};
  std::atomic<int> slowRunning{0};
  std::atomic<int> cancelledBy{-1};  // the Code a cancelled handler saw
  std::atomic<bool> handlerReturned{false};
  std::atomic<bool> sleeping{false};
};

void registerTestService(Server& server, Observed& seen) {
  auto add = [&](const char* method, Handler h) {
    CHECK_TRUE(server.registerMethod(kService, method, std::move(h)).ok());
  };
  add("Echo", [](Context&, std::string_view p) { return Reply::success(std::string(p)); });
  // Blocks until the test releases it (or 20 s), like Wait until a process exits.
  add("Slow", [&seen](Context& ctx, std::string_view p) {
    seen.slowRunning++;
    for (int i = 0; i < 2000 && !seen.releaseSlow && !ctx.done(); i++) ctx.waitDone(10ms);
    seen.slowRunning--;
    if (ctx.done()) seen.cancelledBy = static_cast<int>(ctx.doneReason());
    seen.handlerReturned = true;
    return Reply::success("slow " + std::string(p));
  });
  // Sleeps until cancelled, as a handler honouring its deadline does.
  add("Sleep", [&seen](Context& ctx, std::string_view) {
    seen.sleeping = true;
    ctx.waitDone(20s);
    seen.cancelledBy = static_cast<int>(ctx.doneReason());
    seen.handlerReturned = true;
    return Reply::success("woke");
  });
  add("Meta", [](Context& ctx, std::string_view) {
    std::string out = ctx.deadline() ? "deadline;" : "none;";
    for (const auto& [k, v] : ctx.metadata()) out += k + "=" + v + ";";
    return Reply::success(out);
  });
  add("Fail", [](Context&, std::string_view) { return Reply::failure(Code::NotFound, "no such"); });
  add("Throw", [](Context&, std::string_view) -> Reply { throw std::runtime_error("boom"); });
  add("Huge", [](Context&, std::string_view) {
    return Reply::success(std::string(kMaxMessageBytes + 1, 'h'));
  });
}

Request echo(const std::string& payload) { return Request{kService, "Echo", payload, 0, {}}; }

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 10s) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

}  // namespace

TEST_GROUP(TtrpcServer) {
  Observed seen;
  std::unique_ptr<Server> server;
  void setup() override {
    server = std::make_unique<Server>();
    registerTestService(*server, seen);
  }
  void teardown() override {
    seen.releaseSlow = true;
    CHECK_TRUE(server->stop().ok());
  }
  // A raw client connection served by `server`.
  RawPeer rawClient() {
    auto [mine, theirs] = socketPair();
    CHECK_TRUE(server->serveConnection(std::move(theirs)).ok());
    return RawPeer(std::move(mine));
  }
  std::unique_ptr<Client> client() {
    auto [mine, theirs] = socketPair();
    CHECK_TRUE(server->serveConnection(std::move(theirs)).ok());
    auto c = Client::fromFd(std::move(mine));
    CHECK_TRUE(c.ok());
    return std::move(c).value();
  }
};

TEST(TtrpcServer, ServesAUnixSocketWithModeOwnerOnly) {
  auto dir = TempDir::create("ttrpc-test-");
  CHECK_TRUE(dir.ok());
  std::string path = dir->path() + "/s.sock";
  CHECK_TRUE(server->listen(path).ok());
  struct stat st;
  CHECK_EQUAL(0, ::stat(path.c_str(), &st));
  CHECK_TRUE(S_ISSOCK(st.st_mode));
  LONGS_EQUAL(0600, st.st_mode & 0777);
  for (int i = 0; i < 3; i++) {  // several connections at once
    auto c = Client::connect(path);
    CHECK_TRUE(c.ok());
    auto r = (*c)->call(kService, "Echo", "hello " + std::to_string(i));
    CHECK_TRUE(r.ok());
    CHECK_TRUE(r->ok());
    STRCMP_EQUAL(("hello " + std::to_string(i)).c_str(), r->payload.c_str());
  }
  CHECK_TRUE(server->stop().ok());
  CHECK(::stat(path.c_str(), &st) != 0);  // stop() removed the socket
}

TEST(TtrpcServer, HandlerStatusReachesTheClient) {
  auto c = client();
  auto r = c->call(kService, "Fail", "");
  CHECK_TRUE(r.ok());
  CHECK(r->status.code == Code::NotFound);
  STRCMP_EQUAL("no such", r->status.message.c_str());
}

TEST(TtrpcServer, UnknownServiceAndMethodAreUnimplemented) {
  auto c = client();
  auto r = c->call("no.Such", "Echo", "");
  CHECK_TRUE(r.ok());
  CHECK(r->status.code == Code::Unimplemented);
  STRCMP_EQUAL("ttrpc: unknown service \"no.Such\"", r->status.message.c_str());
  r = c->call(kService, "Nope", "");
  CHECK_TRUE(r.ok());
  CHECK(r->status.code == Code::Unimplemented);
  STRCMP_EQUAL("ttrpc: unknown method \"Nope\" of service \"test.Echo\"",
               r->status.message.c_str());
}

// A blocked call (Wait until a process exits) must not hold up the others on its connection.
TEST(TtrpcServer, SlowCallDoesNotBlockFastCallsOnTheSameConnection) {
  auto c = client();
  std::optional<Result<Reply>> slow;
  std::thread t([&] { slow = c->call(kService, "Slow", "s"); });
  CHECK_TRUE(eventually([&] { return seen.slowRunning == 1; }));
  for (int i = 0; i < 20; i++) {
    auto r = c->call(kService, "Echo", "fast");
    CHECK_TRUE(r.ok() && r->ok());
  }
  CHECK_FALSE(slow.has_value());
  LONGS_EQUAL(1, seen.slowRunning);
  seen.releaseSlow = true;
  t.join();
  CHECK_TRUE(slow && slow->ok());
  STRCMP_EQUAL("slow s", (*slow)->payload.c_str());
}

TEST(TtrpcServer, ManyThreadsShareOneClient) {
  auto c = client();
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; t++) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; i++) {
        std::string p = std::to_string(t) + "/" + std::to_string(i);
        auto r = c->call(kService, "Echo", p);
        if (r.ok() && r->ok() && r->payload == p) ok++;
      }
    });
  }
  for (auto& t : threads) t.join();
  LONGS_EQUAL(400, ok.load());
}

// timeout_nano: the client hears DeadlineExceeded from the server (this raw client has no
// timer of its own), the handler sees done(), and its late reply is dropped.
TEST(TtrpcServer, DeadlineFromTimeoutNano) {
  RawPeer peer = rawClient();
  Request req{kService, "Sleep", "", 100 * 1000 * 1000, {}};  // 100 ms
  CHECK_TRUE(peer.sendRequest(1, req));
  auto r = peer.nextResponse();
  CHECK_TRUE(r.has_value());
  LONGS_EQUAL(1, r->first);
  CHECK(r->second.status.code == Code::DeadlineExceeded);
  CHECK_TRUE(eventually([&] { return seen.handlerReturned.load(); }));
  LONGS_EQUAL(static_cast<int>(Code::DeadlineExceeded), seen.cancelledBy.load());
  // No second answer on stream 1: the next frame is the echo's.
  CHECK_TRUE(peer.sendRequest(3, echo("after")));
  r = peer.nextResponse();
  CHECK_TRUE(r.has_value());
  LONGS_EQUAL(3, r->first);
  STRCMP_EQUAL("after", r->second.payload.c_str());
}

// A handler asleep on a condition of its own is woken by its onDone hook.
TEST(TtrpcServer, OnDoneHookWakesAHandlerWaitingOnItsOwnCondition) {
  Server own;
  std::mutex mu;
  std::condition_variable cv;
  std::atomic<bool> woken{false};
  CHECK_TRUE(own.registerMethod(kService, "Wait",
                                [&](Context& ctx, std::string_view) {
                                  ctx.onDone([&] {
                                    std::lock_guard lock(mu);
                                    cv.notify_all();
                                  });
                                  std::unique_lock lock(mu);
                                  woken = cv.wait_for(lock, 20s, [&] { return ctx.done(); });
                                  return Reply::success("");
                                })
                 .ok());
  auto [mine, theirs] = socketPair();
  CHECK_TRUE(own.serveConnection(std::move(theirs)).ok());
  RawPeer peer(std::move(mine));
  CHECK_TRUE(peer.sendRequest(1, Request{kService, "Wait", "", 50 * 1000 * 1000, {}}));
  auto r = peer.nextResponse();
  CHECK_TRUE(r.has_value());
  CHECK(r->second.status.code == Code::DeadlineExceeded);
  CHECK_TRUE(own.stop().ok());  // returns once the handler did
  CHECK_TRUE(woken.load());
}

TEST(TtrpcServer, ClientTimeoutGivesDeadlineExceeded) {
  auto c = client();
  auto r = c->call(kService, "Sleep", "", 100ms);
  CHECK_TRUE(r.ok());
  CHECK(r->status.code == Code::DeadlineExceeded);
  CHECK_TRUE(eventually([&] { return seen.handlerReturned.load(); }));
  auto again = c->call(kService, "Echo", "still fine");
  CHECK_TRUE(again.ok() && again->ok());
}

TEST(TtrpcServer, MetadataAndDeadlineReachTheHandler) {
  auto c = client();
  auto r = c->call(kService, "Meta", "", 5s, {{"k", "v"}, {"k", "w"}});
  CHECK_TRUE(r.ok() && r->ok());
  STRCMP_EQUAL("deadline;k=v;k=w;", r->payload.c_str());
  r = c->call(kService, "Meta", "");
  STRCMP_EQUAL("none;", r->payload.c_str());
}

TEST(TtrpcServer, OversizedRequestIsResourceExhaustedAndTheConnectionGoesOn) {
  RawPeer peer = rawClient();
  std::string header(kHeaderSize, '\0');
  encodeHeader(FrameHeader{kMaxMessageBytes + 1, 1, 1, 0},
               reinterpret_cast<uint8_t*>(header.data()));
  CHECK_TRUE(peer.send(header + std::string(kMaxMessageBytes + 1, 'x')));
  auto r = peer.nextResponse();
  CHECK_TRUE(r.has_value());
  LONGS_EQUAL(1, r->first);
  CHECK(r->second.status.code == Code::ResourceExhausted);
  STRCMP_EQUAL("ttrpc: message length 4194305 exceeds maximum message size of 4194304",
               r->second.status.message.c_str());
  CHECK_TRUE(peer.sendRequest(3, echo("next")));
  r = peer.nextResponse();
  CHECK_TRUE(r.has_value());
  STRCMP_EQUAL("next", r->second.payload.c_str());
}

TEST(TtrpcServer, MalformedRequestIsInvalidArgumentAndTheConnectionGoesOn) {
  RawPeer peer = rawClient();
  CHECK_TRUE(peer.sendFrame(1, MessageType::Request, 0, std::string("\x0a\x09short", 7)));
  auto r = peer.nextResponse();
  CHECK_TRUE(r.has_value());
  LONGS_EQUAL(1, r->first);
  CHECK(r->second.status.code == Code::InvalidArgument);
  STRCMP_EQUAL("ttrpc: malformed ttrpc.Request (7 bytes)", r->second.status.message.c_str());
  CHECK_TRUE(peer.sendRequest(3, echo("next")));
  r = peer.nextResponse();
  CHECK_TRUE(r.has_value() && r->second.ok());
}

TEST(TtrpcServer, EvenOrReusedStreamIdsAreInvalidArgument) {
  RawPeer peer = rawClient();
  CHECK_TRUE(peer.sendRequest(2, echo("even")));
  auto r = peer.nextResponse();
  CHECK_TRUE(r.has_value());
  LONGS_EQUAL(2, r->first);
  CHECK(r->second.status.code == Code::InvalidArgument);
  CHECK_TRUE(peer.sendRequest(5, echo("five")));
  r = peer.nextResponse();
  CHECK_TRUE(r.has_value() && r->second.ok());
  CHECK_TRUE(peer.sendRequest(3, echo("three")));  // below the last id
  r = peer.nextResponse();
  CHECK_TRUE(r.has_value());
  LONGS_EQUAL(3, r->first);
  CHECK(r->second.status.code == Code::InvalidArgument);
  STRCMP_EQUAL("ttrpc: stream id 3 cannot be reused and must increase (last 5)",
               r->second.status.message.c_str());
}

TEST(TtrpcServer, StreamingRequestsAreUnimplemented) {
  RawPeer peer = rawClient();
  CHECK_TRUE(peer.sendRequest(1, echo("x"), kFlagRemoteOpen));
  auto r = peer.nextResponse();
  CHECK_TRUE(r.has_value());
  CHECK(r->second.status.code == Code::Unimplemented);
}

TEST(TtrpcServer, FramesOfOtherTypesAreIgnored) {
  RawPeer peer = rawClient();
  CHECK_TRUE(peer.sendFrame(1, MessageType::Data, 0, "data"));
  CHECK_TRUE(peer.sendFrame(3, MessageType::Response, 0, ""));
  CHECK_TRUE(peer.sendFrame(5, static_cast<MessageType>(0x7f), 0xff, "future"));
  CHECK_TRUE(peer.sendRequest(7, echo("only")));
  auto r = peer.nextResponse();
  CHECK_TRUE(r.has_value());
  LONGS_EQUAL(7, r->first);
  CHECK_FALSE(peer.next(200).has_value());
}

TEST(TtrpcServer, NegativeTimeoutIsDeadlineExceededWithoutRunningTheHandler) {
  RawPeer peer = rawClient();
  CHECK_TRUE(peer.sendRequest(1, Request{kService, "Sleep", "", -1, {}}));
  auto r = peer.nextResponse();
  CHECK_TRUE(r.has_value());
  CHECK(r->second.status.code == Code::DeadlineExceeded);
  CHECK_FALSE(seen.handlerReturned.load());
}

// The client goes away in the middle of a frame: that connection ends, its running call is
// cancelled, and the server goes on serving others.
TEST(TtrpcServer, PeerClosingMidFrameEndsOnlyThatConnection) {
  RawPeer peer = rawClient();
  CHECK_TRUE(peer.sendRequest(1, Request{kService, "Slow", "", 0, {}}));
  CHECK_TRUE(eventually([&] { return seen.slowRunning == 1; }));
  std::string frame = *encodeFrame(3, MessageType::Request, 0, encodeRequest(echo("cut")));
  CHECK_TRUE(peer.send(frame.substr(0, frame.size() / 2)));
  peer.close();
  CHECK_TRUE(eventually([&] { return server->connectionCount() == 0; }));
  LONGS_EQUAL(static_cast<int>(Code::Canceled), seen.cancelledBy.load());
  auto c = client();
  auto r = c->call(kService, "Echo", "other");
  CHECK_TRUE(r.ok() && r->ok());
}

TEST(TtrpcServer, HandlerExceptionIsInternal) {
  auto c = client();
  auto r = c->call(kService, "Throw", "");
  CHECK_TRUE(r.ok());
  CHECK(r->status.code == Code::Internal);
  STRCMP_EQUAL("ttrpc: handler failed: boom", r->status.message.c_str());
}

TEST(TtrpcServer, ReplyAboveTheLimitIsResourceExhausted) {
  auto c = client();
  auto r = c->call(kService, "Huge", "");
  CHECK_TRUE(r.ok());
  CHECK(r->status.code == Code::ResourceExhausted);
}

TEST(TtrpcServer, RegistrationRules) {
  auto dup = server->registerMethod(kService, "Echo",
                                    [](Context&, std::string_view) { return Reply::success(""); });
  CHECK_FALSE(dup.ok());
  LONGS_EQUAL(EEXIST, dup.error().code);
  auto c = client();  // serving now
  auto late = server->registerMethod(kService, "Late",
                                     [](Context&, std::string_view) { return Reply::success(""); });
  CHECK_FALSE(late.ok());
  LONGS_EQUAL(EBUSY, late.error().code);
}

TEST_GROUP(TtrpcServerLimits) { Observed seen; };

TEST(TtrpcServerLimits, ConcurrentCallsPerConnectionAreBounded) {
  ServerOptions options;
  options.maxCallsPerConnection = 2;
  Server server(options);
  registerTestService(server, seen);
  auto [mine, theirs] = socketPair();
  CHECK_TRUE(server.serveConnection(std::move(theirs)).ok());
  RawPeer peer(std::move(mine));
  CHECK_TRUE(peer.sendRequest(1, Request{kService, "Slow", "", 0, {}}));
  CHECK_TRUE(peer.sendRequest(3, Request{kService, "Slow", "", 0, {}}));
  CHECK_TRUE(peer.sendRequest(5, Request{kService, "Slow", "", 0, {}}));
  auto r = peer.nextResponse();
  CHECK_TRUE(r.has_value());
  LONGS_EQUAL(5, r->first);
  CHECK(r->second.status.code == Code::ResourceExhausted);
  seen.releaseSlow = true;
  CHECK_TRUE(peer.nextResponse().has_value());
  CHECK_TRUE(peer.nextResponse().has_value());
  CHECK_TRUE(server.stop().ok());
}

TEST(TtrpcServerLimits, ConnectionsAreBounded) {
  ServerOptions options;
  options.maxConnections = 1;
  Server server(options);
  registerTestService(server, seen);
  auto [a, aServed] = socketPair();
  auto [b, bServed] = socketPair();
  CHECK_TRUE(server.serveConnection(std::move(aServed)).ok());
  auto refused = server.serveConnection(std::move(bServed));
  CHECK_FALSE(refused.ok());
  LONGS_EQUAL(EMFILE, refused.error().code);
  RawPeer second(std::move(b));
  CHECK_TRUE(second.closedByPeer());
  CHECK_TRUE(server.stop().ok());
}

// shutdown() lets a running call finish and answer; stop() cancels the calls still running.
TEST(TtrpcServerLimits, ShutdownWaitsForRunningCalls) {
  Server server;
  registerTestService(server, seen);
  auto [mine, theirs] = socketPair();
  CHECK_TRUE(server.serveConnection(std::move(theirs)).ok());
  RawPeer peer(std::move(mine));
  CHECK_TRUE(peer.sendRequest(1, Request{kService, "Slow", "", 0, {}}));
  CHECK_TRUE(eventually([&] { return seen.slowRunning == 1; }));
  std::thread releaser([&] {
    std::this_thread::sleep_for(200ms);
    seen.releaseSlow = true;
  });
  CHECK_TRUE(server.shutdown(10s).ok());
  releaser.join();
  auto r = peer.nextResponse();
  CHECK_TRUE(r.has_value());
  STRCMP_EQUAL("slow ", r->second.payload.c_str());
  LONGS_EQUAL(-1, seen.cancelledBy.load());
  CHECK_TRUE(peer.closedByPeer());
}

TEST(TtrpcServerLimits, StopCancelsRunningCalls) {
  Server server;
  registerTestService(server, seen);
  auto [mine, theirs] = socketPair();
  CHECK_TRUE(server.serveConnection(std::move(theirs)).ok());
  RawPeer peer(std::move(mine));
  CHECK_TRUE(peer.sendRequest(1, Request{kService, "Sleep", "", 0, {}}));
  CHECK_TRUE(eventually([&] { return seen.sleeping.load(); }));
  CHECK_TRUE(server.stop().ok());  // returns once the handler returned
  CHECK_TRUE(seen.handlerReturned.load());
  LONGS_EQUAL(static_cast<int>(Code::Canceled), seen.cancelledBy.load());
  CHECK_TRUE(peer.closedByPeer());
  CHECK_FALSE(server.serveConnection(socketPair().first).ok());
}

TEST(TtrpcServerLimits, StopFromAHandlerIsRefused) {
  Server server;
  std::optional<Status> fromHandler;
  CHECK_TRUE(server
                 .registerMethod(kService, "Stop",
                                 [&](Context&, std::string_view) {
                                   fromHandler = server.stop();
                                   return Reply::success("");
                                 })
                 .ok());
  auto [mine, theirs] = socketPair();
  CHECK_TRUE(server.serveConnection(std::move(theirs)).ok());
  auto c = Client::fromFd(std::move(mine));
  CHECK_TRUE(c.ok());
  CHECK_TRUE((*c)->call(kService, "Stop", "").ok());
  CHECK_TRUE(fromHandler.has_value());
  LONGS_EQUAL(EDEADLK, fromHandler->error().code);
  CHECK_TRUE(server.stop().ok());
}
