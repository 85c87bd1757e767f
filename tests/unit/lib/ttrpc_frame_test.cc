#include "lib/ttrpc_frame.h"

#include <string>
#include <vector>

// CppUTest comes last: its leak-checking macros redefine operator new.
#include <CppUTest/TestHarness.h>

using namespace kata::ttrpc;

namespace {

struct Seen {
  FrameHeader header;
  std::string data;
  bool oversized;
};

std::span<const uint8_t> bytesOf(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

FrameDecoder::FrameHandler collect(std::vector<Seen>& out) {
  return [&out](const Frame& f) {
    out.push_back({f.header, std::string(f.data.begin(), f.data.end()), f.oversized});
    return kata::okStatus();
  };
}

std::string frame(uint32_t id, MessageType type, uint8_t flags, const std::string& data) {
  auto f = encodeFrame(id, type, flags, data);
  CHECK_TRUE(f.ok());
  return *f;
}

// A header announcing `length` bytes, without them.
std::string rawHeader(uint32_t length, uint32_t id, uint8_t type) {
  std::string h(kHeaderSize, '\0');
  encodeHeader(FrameHeader{length, id, type, 0}, reinterpret_cast<uint8_t*>(h.data()));
  return h;
}

void checkSame(const std::vector<Seen>& want, const std::vector<Seen>& got) {
  LONGS_EQUAL(want.size(), got.size());
  for (size_t i = 0; i < want.size(); i++) {
    LONGS_EQUAL(want[i].header.length, got[i].header.length);
    LONGS_EQUAL(want[i].header.streamId, got[i].header.streamId);
    LONGS_EQUAL(want[i].header.type, got[i].header.type);
    LONGS_EQUAL(want[i].header.flags, got[i].header.flags);
    CHECK(want[i].data == got[i].data);
    CHECK_EQUAL(want[i].oversized, got[i].oversized);
  }
}

}  // namespace

TEST_GROUP(TtrpcFrame){};

TEST(TtrpcFrame, HeaderIsBigEndianLengthIdTypeFlags) {
  std::string f = frame(0x01020304, MessageType::Response, 0x05, "hello");
  const std::string want("\x00\x00\x00\x05\x01\x02\x03\x04\x02\x05hello", 15);
  CHECK(want == f);
  FrameHeader h = decodeHeader(reinterpret_cast<const uint8_t*>(f.data()));
  LONGS_EQUAL(5, h.length);
  LONGS_EQUAL(0x01020304, h.streamId);
  CHECK(h.is(MessageType::Response));
  LONGS_EQUAL(5, h.flags);
  STRCMP_EQUAL("response id=16909060 flags=0x5 len=5", describe(h).c_str());
}

TEST(TtrpcFrame, EncodeRefusesDataAboveFourMiB) {
  CHECK_TRUE(encodeFrame(1, MessageType::Request, 0, std::string(kMaxMessageBytes, 'x')).ok());
  auto f = encodeFrame(1, MessageType::Request, 0, std::string(kMaxMessageBytes + 1, 'x'));
  CHECK_FALSE(f.ok());
  LONGS_EQUAL(EMSGSIZE, f.error().code);
}

// Three frames (one empty, one with a header-sized payload) cut at every pair of points gives
// the same frames as the whole buffer: a header or payload split anywhere is reassembled.
TEST(TtrpcFrame, DecodesTheSameFramesWhereverTheStreamIsSplit) {
  std::string stream = frame(1, MessageType::Request, 0, "first request") +
                       frame(3, MessageType::Request, kFlagRemoteClosed, "") +
                       frame(5, MessageType::Data, 0, "0123456789");
  std::vector<Seen> want;
  FrameDecoder whole;
  CHECK_TRUE(whole.feed(bytesOf(stream), collect(want)).ok());
  LONGS_EQUAL(3, want.size());
  CHECK_TRUE(whole.atBoundary());
  for (size_t i = 0; i <= stream.size(); i++) {
    for (size_t j = i; j <= stream.size(); j++) {
      std::vector<Seen> got;
      FrameDecoder d;
      CHECK_TRUE(d.feed(bytesOf(stream.substr(0, i)), collect(got)).ok());
      CHECK_TRUE(d.feed(bytesOf(stream.substr(i, j - i)), collect(got)).ok());
      CHECK_TRUE(d.feed(bytesOf(stream.substr(j)), collect(got)).ok());
      checkSame(want, got);
      CHECK_TRUE(d.atBoundary());
    }
  }
}

TEST(TtrpcFrame, DecodesByteByByte) {
  std::string stream = frame(7, MessageType::Request, 0, std::string(3000, 'q')) +
                       frame(9, MessageType::Request, 0, "x");
  std::vector<Seen> got;
  FrameDecoder d;
  for (char c : stream) {
    std::string one(1, c);
    CHECK_TRUE(d.feed(bytesOf(one), collect(got)).ok());
    CHECK(d.buffered() <= kHeaderSize + 3000);
  }
  LONGS_EQUAL(2, got.size());
  LONGS_EQUAL(3000, got[0].data.size());
  STRCMP_EQUAL("x", got[1].data.c_str());
}

TEST(TtrpcFrame, AcceptsExactlyFourMiB) {
  std::string stream = frame(1, MessageType::Request, 0, std::string(kMaxMessageBytes, 'm'));
  std::vector<Seen> got;
  FrameDecoder d;
  // In socket-sized pieces: the buffer never holds more than the frame.
  for (size_t off = 0; off < stream.size(); off += 65536) {
    CHECK_TRUE(d.feed(bytesOf(stream.substr(off, 65536)), collect(got)).ok());
    CHECK(d.buffered() <= kHeaderSize + kMaxMessageBytes);
  }
  LONGS_EQUAL(1, got.size());
  CHECK_FALSE(got[0].oversized);
  LONGS_EQUAL(kMaxMessageBytes, got[0].data.size());
}

// One byte over the limit: the data is skipped without being buffered, the frame is reported
// once all of it has gone by, and the next frame decodes normally.
TEST(TtrpcFrame, SkipsAndReportsAnOversizedFrame) {
  std::string stream = rawHeader(kMaxMessageBytes + 1, 11, 1) +
                       std::string(kMaxMessageBytes + 1, 'z') +
                       frame(13, MessageType::Request, 0, "after");
  std::vector<Seen> got;
  FrameDecoder d;
  for (size_t off = 0; off < stream.size(); off += 4096) {
    CHECK_TRUE(d.feed(bytesOf(stream.substr(off, 4096)), collect(got)).ok());
    CHECK(d.buffered() <= kHeaderSize + 5);
  }
  LONGS_EQUAL(2, got.size());
  CHECK_TRUE(got[0].oversized);
  LONGS_EQUAL(11, got[0].header.streamId);
  LONGS_EQUAL(kMaxMessageBytes + 1, got[0].header.length);
  CHECK_TRUE(got[0].data.empty());
  CHECK_FALSE(got[1].oversized);
  STRCMP_EQUAL("after", got[1].data.c_str());
}

// A hostile 4 GiB length costs nothing but the bytes it is followed by.
TEST(TtrpcFrame, LyingMaximalLengthBuffersNothing) {
  std::vector<Seen> got;
  FrameDecoder d;
  CHECK_TRUE(d.feed(bytesOf(rawHeader(0xffffffff, 1, 1)), collect(got)).ok());
  std::string chunk(1 << 20, 'a');
  for (int i = 0; i < 8; i++) CHECK_TRUE(d.feed(bytesOf(chunk), collect(got)).ok());
  LONGS_EQUAL(0, d.buffered());
  LONGS_EQUAL(0, got.size());
  CHECK_FALSE(d.atBoundary());
}

TEST(TtrpcFrame, HandlerErrorStopsTheDecoderForGood) {
  std::string stream =
      frame(1, MessageType::Request, 0, "a") + frame(3, MessageType::Request, 0, "b");
  int calls = 0;
  FrameDecoder d;
  auto st = d.feed(bytesOf(stream), [&](const Frame&) -> kata::Status {
    calls++;
    return kata::makeError("stop", EPROTO);
  });
  CHECK_FALSE(st.ok());
  LONGS_EQUAL(1, calls);
  CHECK_FALSE(d.feed(bytesOf(stream), [&](const Frame&) { return kata::okStatus(); }).ok());
}
