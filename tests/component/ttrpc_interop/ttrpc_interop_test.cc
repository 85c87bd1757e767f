// Wire compatibility with upstream's ttrpc (Go, Debian's 1.1.1 as containerd 1.6 uses it),
// driven through peer/main.go (the ttrpc-peer binary):
//  * GoClientAgainstOurServer: upstream's client calls our Server, as containerd calls a shim.
//  * OurClientAgainstGoServer: our Client calls upstream's server, as `containerd-shim-kata-v2
//    delete` or a test would call a shim.
// Payloads are google.protobuf.StringValue messages, encoded here by hand.
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "lib/child_process.h"
#include "lib/temp_dir.h"
#include "lib/ttrpc_client.h"
#include "lib/ttrpc_server.h"

// CppUTest comes last: its leak-checking macros redefine operator new.
#include <CppUTest/TestHarness.h>

using namespace kata;
using namespace kata::ttrpc;
using namespace std::chrono_literals;

namespace {

// google.protobuf.StringValue{value: s}: field 1, length-delimited.
std::string stringValue(const std::string& s) {
  std::string out = "\x0a";
  size_t n = s.size();
  do {
    uint8_t b = n & 0x7f;
    n >>= 7;
    out.push_back(static_cast<char>(n ? (b | 0x80) : b));
  } while (n);
  return out + s;
}

void checkHasLine(const std::string& out, const std::string& line) {
  if (out.find(line + "\n") == std::string::npos) {
    FAIL(("missing line: " + line + "\n--- ttrpc-peer printed:\n" + out).c_str());
  }
}

}  // namespace

TEST_GROUP(TtrpcInterop) {
  Result<TempDir> dir = TempDir::create("ttrpc-interop-");
  void setup() override { CHECK_TRUE(dir.ok()); }
};

TEST(TtrpcInterop, GoClientAgainstOurServer) {
  Server server;
  std::atomic<int> sleepCancelledBy{-1};
  auto add = [&](const char* method, Handler h) {
    CHECK_TRUE(server.registerMethod("test.Echo", method, std::move(h)).ok());
  };
  add("Echo", [](Context&, std::string_view p) { return Reply::success(std::string(p)); });
  add("Meta", [](Context& ctx, std::string_view) {
    std::string s;
    for (const auto& [k, v] : ctx.metadata()) s += k + "=" + v + ";";
    return Reply::success(stringValue(s));
  });
  add("Fail", [](Context&, std::string_view) { return Reply::failure(Code::NotFound, "no such"); });
  std::atomic<bool> released{false};
  // Runs until the client calls Release (at most 20 s), however loaded the machine is.
  add("Slow", [&](Context& ctx, std::string_view) {
    for (int i = 0; i < 2000 && !released && !ctx.done(); i++) ctx.waitDone(10ms);
    return Reply::success("");
  });
  add("Release", [&](Context&, std::string_view) {
    released = true;
    return Reply::success("");
  });
  add("Sleep", [&](Context& ctx, std::string_view) {
    ctx.waitDone(20s);
    sleepCancelledBy = static_cast<int>(ctx.doneReason());
    return Reply::success("");
  });
  std::string sock = dir->path() + "/server.sock";
  CHECK_TRUE(server.listen(sock).ok());

  auto out = runCommand({TTRPC_PEER_BIN, "client", sock}, 60);
  CHECK_TEXT(out.ok(), out.ok() ? "" : out.error().str().c_str());
  checkHasLine(*out, "echo: OK \"\" \"hello from go\"");
  checkHasLine(*out, "metadata: OK \"\" \"k=v1;k=v2;\"");
  checkHasLine(*out, "unknown service: Unimplemented \"ttrpc: unknown service \\\"no.Such\\\"\"");
  checkHasLine(*out,
               "unknown method: Unimplemented \"ttrpc: unknown method \\\"Nope\\\" of "
               "service \\\"test.Echo\\\"\"");
  checkHasLine(*out, "handler status: NotFound \"no such\"");
  checkHasLine(*out, "3 MiB echo: OK \"\" 3145728");
  CHECK_TEXT(out->find("5 MiB request: ResourceExhausted") != std::string::npos, out->c_str());
  checkHasLine(*out, "concurrent: 16/16 fast calls answered while the slow one ran: true");
  checkHasLine(*out, "release: OK \"\"");
  checkHasLine(*out, "slow: OK \"\"");
  CHECK_TEXT(out->find("deadline: DeadlineExceeded") != std::string::npos, out->c_str());
  // The Go client sent its context's deadline as timeout_nano, and our server enforced it.
  for (int i = 0; i < 500 && sleepCancelledBy < 0; i++) std::this_thread::sleep_for(10ms);
  LONGS_EQUAL(static_cast<int>(Code::DeadlineExceeded), sleepCancelledBy.load());
  CHECK_TRUE(server.stop().ok());
}

TEST(TtrpcInterop, OurClientAgainstGoServer) {
  std::string sock = dir->path() + "/go.sock";
  SpawnOptions so;
  so.argv = {TTRPC_PEER_BIN, "server", sock};
  auto peer = ChildProcess::spawn(so);  // killed and reaped when it goes out of scope
  CHECK_TEXT(peer.ok(), peer.ok() ? "" : peer.error().str().c_str());
  auto client = Client::connect(sock, 10000);
  CHECK_TEXT(client.ok(), client.ok() ? "" : client.error().str().c_str());
  Client& c = **client;

  auto r = c.call("test.Echo", "Echo", stringValue("hi"), 0ms, {{"k", "v1"}, {"k", "v2"}});
  CHECK_TRUE(r.ok());
  CHECK_TEXT(r->ok(), r->status.str().c_str());
  CHECK(stringValue("go: hiv1,v2") == r->payload);

  r = c.call("test.Echo", "Fail", "");
  CHECK_TRUE(r.ok());
  CHECK(r->status.code == Code::NotFound);
  STRCMP_EQUAL("nothing here", r->status.message.c_str());

  r = c.call("test.Echo", "Nope", "");
  CHECK_TRUE(r.ok());
  CHECK(r->status.code == Code::Unimplemented);
  r = c.call("no.Such", "Echo", "");
  CHECK_TRUE(r.ok());
  CHECK(r->status.code == Code::Unimplemented);

  // Upstream's server refuses a stream id that does not increase: concurrent calls from many
  // threads must reach it in id order.
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; t++) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; i++) {
        std::string v = std::to_string(t) + "." + std::to_string(i);
        auto reply = c.call("test.Echo", "Echo", stringValue(v));
        if (reply.ok() && reply->ok() && reply->payload == stringValue("go: " + v)) ok++;
      }
    });
  }
  for (auto& t : threads) t.join();
  LONGS_EQUAL(200, ok.load());

  // Our timeout travels as timeout_nano; upstream's handler sees its context expire.
  auto start = std::chrono::steady_clock::now();
  r = c.call("test.Echo", "Sleep", "", 300ms);
  CHECK_TRUE(r.ok());
  CHECK(r->status.code == Code::DeadlineExceeded);
  CHECK(std::chrono::steady_clock::now() - start < 10s);
}
