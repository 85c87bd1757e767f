#include "lib/ttrpc_message.h"

#include <string>

// CppUTest comes last: its leak-checking macros redefine operator new.
#include <CppUTest/TestHarness.h>

using namespace kata::ttrpc;

namespace {

std::span<const uint8_t> bytesOf(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace

TEST_GROUP(TtrpcMessage){};

// The bytes upstream's Go peers produce for these messages (protobuf field 1 = 0x0a, ...).
TEST(TtrpcMessage, RequestWireBytes) {
  Request r{"s", "m", "p", 0, {}};
  const std::string want("\x0a\x01s\x12\x01m\x1a\x01p", 9);
  CHECK(want == encodeRequest(r));
  r.timeoutNanos = 1;
  r.metadata = {{"k", "v"}};
  const std::string withMore("\x0a\x01s\x12\x01m\x1a\x01p\x20\x01\x2a\x06\x0a\x01k\x12\x01v", 19);
  CHECK(withMore == encodeRequest(r));
}

TEST(TtrpcMessage, RequestRoundTrip) {
  Request r{"containerd.task.v2.Task",
            "Wait",
            std::string("\x00\x01\x02", 3),
            5000000000,
            {{"a", "1"}, {"a", "2"}, {"b", ""}}};
  std::string bytes = encodeRequest(r);
  auto got = parseRequest(bytesOf(bytes));
  CHECK_TRUE(got.ok());
  STRCMP_EQUAL("containerd.task.v2.Task", got->service.c_str());
  STRCMP_EQUAL("Wait", got->method.c_str());
  CHECK(r.payload == got->payload);
  CHECK_EQUAL(5000000000, got->timeoutNanos);
  LONGS_EQUAL(3, got->metadata.size());
  STRCMP_EQUAL("2", got->metadata[1].second.c_str());
}

TEST(TtrpcMessage, MalformedRequestIsAnError) {
  const std::string bad[] = {
      std::string("\x0a\x05s", 3),         // string longer than the message
      std::string("\x0a\x02\xff\xfe", 4),  // service not UTF-8
      std::string("\x22\x01", 2),          // field 4 with the wrong wire type, cut short
      std::string("\x0f", 1),              // wire type 7 does not exist
      std::string("\x20\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 12),  // varint too long
  };
  for (const auto& b : bad) {
    auto got = parseRequest(bytesOf(b));
    CHECK_FALSE(got.ok());
    LONGS_EQUAL(EPROTO, got.error().code);
  }
}

TEST(TtrpcMessage, ResponseWireBytesAndRoundTrip) {
  const std::string unimplemented("\x0a\x02\x08\x0c", 4);
  CHECK(unimplemented == encodeResponse(Reply::failure(Code::Unimplemented, "")));
  auto ok = parseResponse(bytesOf(encodeResponse(Reply::success("reply"))));
  CHECK_TRUE(ok.ok());
  CHECK_TRUE(ok->ok());
  STRCMP_EQUAL("reply", ok->payload.c_str());
  auto err = parseResponse(bytesOf(encodeResponse(Reply::failure(Code::NotFound, "no such"))));
  CHECK_TRUE(err.ok());
  CHECK(err->status.code == Code::NotFound);
  STRCMP_EQUAL("NotFound: no such", err->status.str().c_str());
}

TEST(TtrpcMessage, ResponseWithoutStatusIsSuccess) {
  const std::string payloadOnly("\x12\x02hi", 4);
  auto r = parseResponse(bytesOf(payloadOnly));
  CHECK_TRUE(r.ok());
  CHECK_TRUE(r->ok());
  STRCMP_EQUAL("hi", r->payload.c_str());
  CHECK_FALSE(parseResponse(bytesOf(std::string("\x0a\x09", 2))).ok());
}

TEST(TtrpcMessage, CodeNames) {
  STRCMP_EQUAL("OK", codeName(Code::Ok).c_str());
  STRCMP_EQUAL("DeadlineExceeded", codeName(Code::DeadlineExceeded).c_str());
  STRCMP_EQUAL("Unauthenticated", codeName(Code::Unauthenticated).c_str());
  STRCMP_EQUAL("Code(42)", codeName(static_cast<Code>(42)).c_str());
}
