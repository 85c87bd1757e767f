#include "lib/yamux_frame.h"

#include <string>
#include <vector>

// CppUTest comes last: its leak-checking macros redefine operator new.
#include <CppUTest/TestHarness.h>

using namespace kata::yamux;

namespace {

std::vector<uint8_t> bytes(std::initializer_list<int> v) {
  return std::vector<uint8_t>(v.begin(), v.end());
}

struct Collected {
  std::vector<Header> headers;
  std::vector<std::string> payloads;
};

FrameDecoder::FrameHandler collect(Collected& c) {
  return [&c](const Header& h, std::span<const uint8_t> p) {
    c.headers.push_back(h);
    c.payloads.emplace_back(reinterpret_cast<const char*>(p.data()), p.size());
    return kata::okStatus();
  };
}

}  // namespace

TEST_GROUP(YamuxFrame){};

TEST(YamuxFrame, EncodesBigEndianHeaderAsHashicorpYamux) {
  std::string out;
  appendFrame(out, Header{FrameType::WindowUpdate, kFlagSyn, 1, 0x00040000});
  auto want = bytes({0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 0, 0});
  CHECK(std::string(want.begin(), want.end()) == out);
}

TEST(YamuxFrame, RoundTripsDataFrame) {
  std::string out;
  std::string payload = "hello";
  appendFrame(out, Header{FrameType::Data, kFlagFin, 7, 5},
              {reinterpret_cast<const uint8_t*>(payload.data()), payload.size()});
  LONGS_EQUAL(17, out.size());
  Collected c;
  CHECK(FrameDecoder(kInitialWindow)
            .feed({reinterpret_cast<const uint8_t*>(out.data()), out.size()}, collect(c))
            .ok());
  LONGS_EQUAL(1, c.headers.size());
  CHECK(c.headers[0].type == FrameType::Data);
  LONGS_EQUAL(kFlagFin, c.headers[0].flags);
  LONGS_EQUAL(7, c.headers[0].streamId);
  STRCMP_EQUAL("hello", c.payloads[0].c_str());
}

TEST(YamuxFrame, DecodesByteByByte) {
  std::string out;
  std::string payload(1000, 'x');
  for (int i = 0; i < 3; i++) {
    appendFrame(out, Header{FrameType::Data, 0, 3, 1000},
                {reinterpret_cast<const uint8_t*>(payload.data()), payload.size()});
    appendFrame(out, Header{FrameType::Ping, kFlagSyn, 0, 42});
  }
  Collected c;
  FrameDecoder d(kInitialWindow);
  for (char ch : out) {
    uint8_t b = static_cast<uint8_t>(ch);
    CHECK(d.feed({&b, 1}, collect(c)).ok());
  }
  LONGS_EQUAL(6, c.headers.size());
  CHECK(c.payloads[4] == payload);
  CHECK(c.headers[5].type == FrameType::Ping);
  LONGS_EQUAL(42, c.headers[5].length);
  LONGS_EQUAL(0, d.pending());
}

TEST(YamuxFrame, RejectsBadVersion) {
  auto b = bytes({1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0});
  auto h = decodeHeader(b.data(), kInitialWindow);
  CHECK_FALSE(h.ok());
  STRCMP_CONTAINS("version", h.error().message.c_str());
}

TEST(YamuxFrame, RejectsUnknownTypeAndFlags) {
  auto t = bytes({0, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0});
  STRCMP_CONTAINS("type", decodeHeader(t.data(), kInitialWindow).error().message.c_str());
  auto f = bytes({0, 0, 0, 0x10, 0, 0, 0, 1, 0, 0, 0, 0});
  STRCMP_CONTAINS("flags", decodeHeader(f.data(), kInitialWindow).error().message.c_str());
}

TEST(YamuxFrame, RejectsFramesOnTheWrongId) {
  auto ping = bytes({0, 2, 0, 1, 0, 0, 0, 3, 0, 0, 0, 0});
  CHECK_FALSE(decodeHeader(ping.data(), kInitialWindow).ok());
  auto data = bytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  CHECK_FALSE(decodeHeader(data.data(), kInitialWindow).ok());
}

TEST(YamuxFrame, RejectsOversizeDataBeforeBufferingIt) {
  auto b = bytes({0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff});
  Collected c;
  FrameDecoder d(kInitialWindow);
  auto st = d.feed(b, collect(c));
  CHECK_FALSE(st.ok());
  STRCMP_CONTAINS("oversize", st.error().message.c_str());
  LONGS_EQUAL(0, d.pending());
  // A failed decoder stays failed.
  auto ok = bytes({0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0});
  CHECK_FALSE(d.feed(ok, collect(c)).ok());
  LONGS_EQUAL(0, c.headers.size());
}

TEST(YamuxFrame, WindowUpdateLengthIsNotAPayload) {
  // A window update may carry any 32-bit delta; nothing follows it on the wire.
  auto b =
      bytes({0, 1, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0, 2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 9});
  Collected c;
  CHECK(FrameDecoder(kInitialWindow).feed(b, collect(c)).ok());
  LONGS_EQUAL(2, c.headers.size());
  LONGS_EQUAL(0xffffffffu, c.headers[0].length);
  CHECK(c.headers[1].type == FrameType::Ping);
}

TEST(YamuxFrame, HandlerErrorStopsDecoding) {
  std::string out;
  appendFrame(out, Header{FrameType::Ping, kFlagSyn, 0, 1});
  appendFrame(out, Header{FrameType::Ping, kFlagSyn, 0, 2});
  int calls = 0;
  auto st = FrameDecoder(kInitialWindow)
                .feed({reinterpret_cast<const uint8_t*>(out.data()), out.size()},
                      [&](const Header&, std::span<const uint8_t>) -> kata::Status {
                        calls++;
                        return kata::makeError("stop");
                      });
  CHECK_FALSE(st.ok());
  LONGS_EQUAL(1, calls);
}

TEST(YamuxFrame, DescribeNamesFlags) {
  STRCMP_EQUAL("data id=3 flags=SYN|FIN len=10",
               describe(Header{FrameType::Data, kFlagSyn | kFlagFin, 3, 10}).c_str());
}
