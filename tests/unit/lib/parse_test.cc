#include "lib/parse.h"

#include <string>

// CppUTest comes last: its leak-detection macros break standard headers.
#include <CppUTest/TestHarness.h>

using kata::parseBool;
using kata::parseDuration;
using kata::parseInt;
using namespace std::chrono_literals;

TEST_GROUP(Parse){};

TEST(Parse, IntegersInRange) {
  LONGS_EQUAL(42, *parseInt<int>("42", "n"));
  LONGS_EQUAL(-7, *parseInt<int>("-7", "n"));
  LONGS_EQUAL(0, *parseInt<int>("-0", "n"));
  CHECK(*parseInt<uint64_t>("18446744073709551615", "n") == UINT64_MAX);
  CHECK(*parseInt<int64_t>("-9223372036854775808", "n") == INT64_MIN);
  LONGS_EQUAL(255, *parseInt<uint8_t>("255", "n"));
  LONGS_EQUAL(0x1ff, *parseInt<uint32_t>("1fF", "n", 16));
}

TEST(Parse, IntegersRejectAnythingElse) {
  for (const char* bad : {"", "-", "+1", " 1", "1 ", "1x", "0x10", "1.5", "1e3", "--1", "٣"}) {
    auto r = parseInt<int>(bad, "--n");
    CHECK_FALSE_TEXT(r.ok(), bad);
    LONGS_EQUAL(EINVAL, r.error().code);
    CHECK(r.error().message.rfind("--n: \"", 0) == 0);
  }
  CHECK_FALSE(parseInt<unsigned>("-1", "n").ok());  // no wrap-around as with strtoul
  CHECK_FALSE(parseInt<uint32_t>("-4294967295", "n").ok());
}

TEST(Parse, IntegersOutOfRangeSaySo) {
  auto big = parseInt<int64_t>("99999999999999999999", "--interval");
  CHECK_FALSE(big.ok());
  LONGS_EQUAL(ERANGE, big.error().code);
  STRCMP_EQUAL("--interval: \"99999999999999999999\" is out of range", big.error().message.c_str());
  CHECK_FALSE(parseInt<uint8_t>("256", "n").ok());
  CHECK_FALSE(parseInt<int8_t>("-129", "n").ok());
  CHECK_FALSE(parseInt<uint32_t>("4294967296", "n").ok());
}

TEST(Parse, ErrorQuotesAreShortAndPrintable) {
  auto r = parseInt<int>(std::string(100, '7') + "\x1b[2J", "n");
  CHECK_FALSE(r.ok());
  CHECK(r.error().message.find('\x1b') == std::string::npos);
  CHECK(r.error().message.size() < 80);
}

TEST(Parse, Durations) {
  CHECK(*parseDuration("5s", "d") == 5s);
  CHECK(*parseDuration("250ms", "d") == 250ms);
  CHECK(*parseDuration("1m30s", "d") == 90s);
  CHECK(*parseDuration("1.5h", "d") == 90min);
  CHECK(*parseDuration(".5s", "d") == 500ms);
  CHECK(*parseDuration("10us", "d") == 10us);
  CHECK(*parseDuration("10\xc2\xb5s", "d") == 10us);
  CHECK(*parseDuration("7ns", "d") == 7ns);
  CHECK(*parseDuration("0s", "d") == 0s);
  CHECK(*parseDuration("9223372036854775807ns", "d") == std::chrono::nanoseconds::max());
}

TEST(Parse, DurationsRejectBadText) {
  for (const char* bad : {"", "5", "s", "-5s", "+5s", "5 s", "5x", "5.s.", ".s", "1h-1m", "5S"}) {
    auto r = parseDuration(bad, "--interval");
    CHECK_FALSE_TEXT(r.ok(), bad);
    LONGS_EQUAL(EINVAL, r.error().code);
  }
}

TEST(Parse, DurationsOutOfRange) {
  for (const char* big : {"99999999999999999999s", "3000000h", "9223372036854775808ns",
                          "9223372036854775807ns1ns", "99999999999999999999999999ms"}) {
    auto r = parseDuration(big, "--interval");
    CHECK_FALSE_TEXT(r.ok(), big);
    LONGS_EQUAL(ERANGE, r.error().code);
  }
}

TEST(Parse, Booleans) {
  for (const char* t : {"1", "t", "T", "true", "TRUE", "True"}) CHECK(*parseBool(t, "b"));
  for (const char* f : {"0", "f", "F", "false", "FALSE", "False"}) CHECK_FALSE(*parseBool(f, "b"));
  auto r = parseBool("yes", "-debug");
  CHECK_FALSE(r.ok());
  STRCMP_EQUAL("-debug: \"yes\" is not a boolean (true or false)", r.error().message.c_str());
}
