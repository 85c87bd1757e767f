#include "lib/grpc_reply_guard.h"

#include <sys/socket.h>
#include <unistd.h>

#include <string>

// CppUTest comes last: its leak-detection macros break standard headers.
#include <CppUTest/TestHarness.h>

using kata::grpcguard::GuardedConnection;
using kata::grpcguard::Limits;
using kata::grpcguard::ReplyScanner;

namespace {

// An HTTP/2 frame header: 24-bit length, type, flags, 31-bit stream id.
std::string frame(uint8_t type, uint8_t flags, uint32_t stream, const std::string& payload) {
  std::string f;
  uint32_t n = uint32_t(payload.size());
  f += char(n >> 16);
  f += char(n >> 8);
  f += char(n);
  f += char(type);
  f += char(flags);
  f += char(stream >> 24);
  f += char(stream >> 16);
  f += char(stream >> 8);
  f += char(stream);
  return f + payload;
}

// A gRPC message prefix: compressed flag, 32-bit length.
std::string prefix(uint32_t size, bool compressed = false) {
  std::string p(1, compressed ? '\1' : '\0');
  p += char(size >> 24);
  p += char(size >> 16);
  p += char(size >> 8);
  p += char(size);
  return p;
}

constexpr uint8_t kData = 0, kHeaders = 1, kRst = 3, kSettings = 4, kContinuation = 9;
constexpr uint8_t kEndStream = 1, kEndHeaders = 4, kPadded = 8;

Limits small() {
  Limits l;
  l.maxMessageBytes = 100;
  l.maxHeaderBlockBytes = 50;
  l.maxOpenStreams = 3;
  return l;
}

// Feeds `bytes` one byte at a time (the worst split) and returns the error text, "" when none.
std::string feedBytewise(ReplyScanner& s, const std::string& bytes) {
  for (char c : bytes) {
    auto st = s.feed(std::string_view(&c, 1));
    if (!st.ok()) return st.error().message;
  }
  return "";
}

}  // namespace

TEST_GROUP(ReplyScanner){};

TEST(ReplyScanner, AcceptsAnHonestExchange) {
  ReplyScanner s(small());
  std::string wire = frame(kSettings, 0, 0, std::string(12, '\0')) +
                     frame(kHeaders, kEndHeaders, 1, std::string(40, 'h')) +
                     frame(kData, 0, 1, prefix(100) + std::string(60, 'x')) +
                     frame(kData, 0, 1, std::string(40, 'x') + prefix(3) + "abc") +
                     frame(kHeaders, kEndHeaders | kEndStream, 1, std::string(20, 't'));
  STRCMP_EQUAL("", feedBytewise(s, wire).c_str());
  // Whole, as well.
  ReplyScanner whole(small());
  CHECK(whole.feed(wire).ok());
}

TEST(ReplyScanner, RefusesAMessageAboveTheLimitAtItsPrefix) {
  ReplyScanner s(small());
  // Only the prefix has arrived: that is enough.
  std::string err = feedBytewise(s, frame(kData, 0, 1, prefix(101)));
  STRCMP_CONTAINS("a reply of 101 bytes", err.c_str());
  // Later calls repeat the verdict.
  CHECK(!s.feed("x").ok());
}

TEST(ReplyScanner, FindsThePrefixAfterPaddingAndAcrossFrames) {
  ReplyScanner s(small());
  // Padded frame: pad length 4, the 3 first prefix bytes, 4 bytes of padding (which hold
  // nothing the scanner may read as a prefix), then the rest of the prefix in the next frame.
  std::string p = prefix(1000);
  std::string padded = std::string(1, '\4') + p.substr(0, 3) + std::string(4, '\xff');
  std::string err =
      feedBytewise(s, frame(kData, kPadded, 5, padded) + frame(kData, 0, 5, p.substr(3)));
  STRCMP_CONTAINS("a reply of 1000 bytes", err.c_str());
}

TEST(ReplyScanner, KeepsStreamsApart) {
  ReplyScanner s(small());
  // Stream 1 is inside a 100-byte message: its bytes are body, not a prefix; stream 3's next
  // bytes are a prefix.
  std::string wire = frame(kData, 0, 1, prefix(100) + std::string(10, '\xff')) +
                     frame(kData, 0, 3, prefix(5) + "hello") +
                     frame(kData, 0, 1, std::string(90, '\xff')) +
                     frame(kData, kEndStream, 3, prefix(200));
  STRCMP_CONTAINS("a reply of 200 bytes", feedBytewise(s, wire).c_str());
}

TEST(ReplyScanner, RefusesCompressedMessages) {
  ReplyScanner s(small());
  STRCMP_CONTAINS("compressed", feedBytewise(s, frame(kData, 0, 1, prefix(10, true))).c_str());
}

TEST(ReplyScanner, CapsHeaderBlocksAcrossContinuations) {
  ReplyScanner s(small());
  std::string wire = frame(kHeaders, 0, 1, std::string(30, 'h')) +
                     frame(kContinuation, 0, 1, std::string(30, 'h'));
  STRCMP_CONTAINS("header block", feedBytewise(s, wire).c_str());
  ReplyScanner fine(small());
  CHECK(fine.feed(frame(kHeaders, kEndHeaders, 1, std::string(30, 'h')) +
                  frame(kHeaders, kEndHeaders, 3, std::string(30, 'h')))
            .ok());
}

TEST(ReplyScanner, BoundsOpenStreamsAndForgetsEndedOnes) {
  ReplyScanner s(small());
  std::string ended;
  for (uint32_t id = 1; id < 40; id += 2) {
    ended += frame(kData, kEndStream, id, prefix(1) + "x");
  }
  ended += frame(kData, 0, 41, prefix(50)) + frame(kRst, 0, 41, std::string(4, '\0'));
  CHECK(s.feed(ended).ok());
  std::string open;
  for (uint32_t id = 101; id < 109; id += 2) open += frame(kData, 0, id, prefix(50));
  STRCMP_CONTAINS("more than 3 streams", feedBytewise(s, open).c_str());
}

TEST(ReplyScanner, RefusesPaddingBeyondTheFrame) {
  ReplyScanner s(small());
  STRCMP_CONTAINS("padded", feedBytewise(s, frame(kData, kPadded, 1,
                                                  "\x09"
                                                  "abc"))
                                .c_str());
}

TEST_GROUP(GuardedConnection){};

// Bytes pass both ways until the server breaks the limits; then both sides see the end.
TEST(GuardedConnection, RelaysThenCuts) {
  int pair[2];
  CHECK(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
  kata::UniqueFd server(pair[0]), agent(pair[1]);
  auto g = GuardedConnection::start(std::move(server), small());
  CHECK(g.ok());
  kata::UniqueFd client((*g)->releaseClientFd());
  CHECK(::write(client.get(), "req", 3) == 3);
  char buf[64];
  CHECK(::read(agent.get(), buf, sizeof buf) == 3);
  std::string ok = frame(kData, 0, 1, prefix(2) + "ok");
  CHECK(::write(agent.get(), ok.data(), ok.size()) == ssize_t(ok.size()));
  CHECK(::read(client.get(), buf, sizeof buf) == ssize_t(ok.size()));
  STRCMP_EQUAL("", (*g)->violation().c_str());
  std::string big = frame(kData, 0, 1, prefix(1 << 20));
  CHECK(::write(agent.get(), big.data(), big.size()) == ssize_t(big.size()));
  CHECK(::read(client.get(), buf, sizeof buf) == 0);  // cut: nothing of it reaches the client
  CHECK(::read(agent.get(), buf, sizeof buf) == 0);
  STRCMP_CONTAINS("a reply of 1048576 bytes", (*g)->violation().c_str());
}
