// The ttrpc client against a raw server (RawPeer) that answers, or misbehaves, frame by frame.
#include "lib/ttrpc_client.h"

#include <optional>
#include <thread>

#include "tests/unit/lib/ttrpc_test_peer.h"

// CppUTest comes last: its leak-checking macros redefine operator new.
#include <CppUTest/TestHarness.h>

using namespace kata;
using namespace kata::ttrpc;
using namespace kata::ttrpc::testing;
using namespace std::chrono_literals;

namespace {

// A call running on a thread of its own while the test plays the server.
class PendingCall {
 public:
  PendingCall(Client& c, std::string method, std::chrono::milliseconds timeout = 0ms)
      : thread_([&c, method, timeout, this] { result_ = c.call("svc", method, "req", timeout); }) {}
  Result<Reply>& get() {
    if (thread_.joinable()) thread_.join();
    return *result_;
  }
  ~PendingCall() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::optional<Result<Reply>> result_;
  std::thread thread_;
};

std::optional<Request> requestOf(const std::optional<ReceivedFrame>& f) {
  if (!f || !f->header.is(MessageType::Request)) return std::nullopt;
  auto r = parseRequest({reinterpret_cast<const uint8_t*>(f->data.data()), f->data.size()});
  if (!r) return std::nullopt;
  return std::move(r).value();
}

}  // namespace

TEST_GROUP(TtrpcClient) {
  std::unique_ptr<Client> client;
  std::unique_ptr<RawPeer> server;
  void setup() override {
    auto [mine, theirs] = socketPair();
    auto c = Client::fromFd(std::move(theirs));
    CHECK_TRUE(c.ok());
    client = std::move(c).value();
    server = std::make_unique<RawPeer>(std::move(mine));
  }
  void teardown() override {
    client.reset();
    server.reset();
  }
};

// Odd ids from 1 up; replies are matched by id whatever their order.
TEST(TtrpcClient, NumbersStreamsOddAndMatchesRepliesById) {
  PendingCall a(*client, "A");
  auto fa = server->next();
  PendingCall b(*client, "B");
  auto fb = server->next();
  auto ra = requestOf(fa);
  auto rb = requestOf(fb);
  CHECK_TRUE(ra && rb);
  LONGS_EQUAL(1, fa->header.streamId);
  LONGS_EQUAL(3, fb->header.streamId);
  LONGS_EQUAL(0, fa->header.flags);
  STRCMP_EQUAL("svc", ra->service.c_str());
  STRCMP_EQUAL("A", ra->method.c_str());
  STRCMP_EQUAL("req", ra->payload.c_str());
  CHECK_EQUAL(0, ra->timeoutNanos);
  CHECK_TRUE(
      server->sendFrame(3, MessageType::Response, 0, encodeResponse(Reply::success("for B"))));
  CHECK_TRUE(server->sendFrame(1, MessageType::Response, 0,
                               encodeResponse(Reply::failure(Code::NotFound, "for A"))));
  CHECK_TRUE(b.get().ok());
  STRCMP_EQUAL("for B", b.get()->payload.c_str());
  CHECK_TRUE(a.get().ok());
  CHECK(a.get()->status.code == Code::NotFound);
  STRCMP_EQUAL("for A", a.get()->status.message.c_str());
}

// The timeout travels as timeout_nano; when it passes the call ends with DeadlineExceeded and
// the late response is dropped.
TEST(TtrpcClient, TimeoutGivesDeadlineExceededAndDropsTheLateReply) {
  PendingCall a(*client, "A", 150ms);
  auto req = requestOf(server->next());
  CHECK_TRUE(req.has_value());
  CHECK_EQUAL(150000000, req->timeoutNanos);
  CHECK_TRUE(a.get().ok());
  CHECK(a.get()->status.code == Code::DeadlineExceeded);
  CHECK_TRUE(
      server->sendFrame(1, MessageType::Response, 0, encodeResponse(Reply::success("late"))));
  PendingCall b(*client, "B");
  auto fb = server->next();
  LONGS_EQUAL(3, fb->header.streamId);
  CHECK_TRUE(server->sendFrame(3, MessageType::Response, 0, encodeResponse(Reply::success("b"))));
  CHECK_TRUE(b.get().ok());
  STRCMP_EQUAL("b", b.get()->payload.c_str());
}

TEST(TtrpcClient, FramesOtherThanResponsesAreIgnored) {
  PendingCall a(*client, "A");
  CHECK_TRUE(server->next().has_value());
  CHECK_TRUE(server->sendFrame(1, MessageType::Request, 0, "not for a client"));
  CHECK_TRUE(server->sendFrame(1, MessageType::Data, 0, "nor this"));
  CHECK_TRUE(server->sendFrame(99, MessageType::Response, 0, encodeResponse(Reply::success(""))));
  CHECK_TRUE(server->sendFrame(1, MessageType::Response, 0, encodeResponse(Reply::success("ok"))));
  STRCMP_EQUAL("ok", a.get()->payload.c_str());
}

TEST(TtrpcClient, OversizedResponseFailsThatCallOnly) {
  PendingCall a(*client, "A");
  CHECK_TRUE(server->next().has_value());
  std::string header(kHeaderSize, '\0');
  encodeHeader(FrameHeader{kMaxMessageBytes + 1, 1, 2, 0},
               reinterpret_cast<uint8_t*>(header.data()));
  CHECK_TRUE(server->send(header + std::string(kMaxMessageBytes + 1, 'r')));
  CHECK_FALSE(a.get().ok());
  LONGS_EQUAL(EMSGSIZE, a.get().error().code);
  PendingCall b(*client, "B");
  CHECK_TRUE(server->next().has_value());
  CHECK_TRUE(server->sendFrame(3, MessageType::Response, 0, encodeResponse(Reply::success("b"))));
  STRCMP_EQUAL("b", b.get()->payload.c_str());
}

TEST(TtrpcClient, MalformedResponseIsAnError) {
  PendingCall a(*client, "A");
  CHECK_TRUE(server->next().has_value());
  CHECK_TRUE(server->sendFrame(1, MessageType::Response, 0, std::string("\x0a\x7f", 2)));
  CHECK_FALSE(a.get().ok());
  LONGS_EQUAL(EPROTO, a.get().error().code);
}

TEST(TtrpcClient, ServerClosingMidFrameFailsWaitingAndLaterCalls) {
  PendingCall a(*client, "A");
  CHECK_TRUE(server->next().has_value());
  std::string reply =
      *encodeFrame(1, MessageType::Response, 0, encodeResponse(Reply::success("x")));
  CHECK_TRUE(server->send(reply.substr(0, 7)));
  server->close();
  CHECK_FALSE(a.get().ok());
  LONGS_EQUAL(ECONNRESET, a.get().error().code);
  STRCMP_EQUAL("ttrpc: connection closed by the server in the middle of a frame",
               a.get().error().message.c_str());
  auto later = client->call("svc", "B", "");
  CHECK_FALSE(later.ok());
  LONGS_EQUAL(ECONNRESET, later.error().code);
}

TEST(TtrpcClient, CloseFailsWaitingCalls) {
  PendingCall a(*client, "A");
  CHECK_TRUE(server->next().has_value());
  client->close();
  CHECK_FALSE(a.get().ok());
  LONGS_EQUAL(ECONNABORTED, a.get().error().code);
}

TEST(TtrpcClient, RequestAboveTheLimitIsRefusedLocally) {
  auto r = client->call("svc", "Big", std::string(kMaxMessageBytes, 'p'));
  CHECK_FALSE(r.ok());
  LONGS_EQUAL(EMSGSIZE, r.error().code);
  CHECK_FALSE(server->next(200).has_value());  // nothing was sent
}
