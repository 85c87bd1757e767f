#include "runtime/virtcontainers/lifecycle.h"

#include <signal.h>

#include <CppUTest/TestHarness.h>

TEST_GROUP(ParseSignal){};

TEST(ParseSignal, NamesNumbersAndPrefixes) {
  LONGS_EQUAL(SIGKILL, kata::vc::parseSignal("KILL").value());
  LONGS_EQUAL(SIGKILL, kata::vc::parseSignal("SIGKILL").value());
  LONGS_EQUAL(SIGTERM, kata::vc::parseSignal("term").value());
  LONGS_EQUAL(9, kata::vc::parseSignal("9").value());
  LONGS_EQUAL(SIGWINCH, kata::vc::parseSignal("WINCH").value());
}

TEST(ParseSignal, RejectsUnknownAndOutOfRange) {
  CHECK_FALSE(kata::vc::parseSignal("NOPE").ok());
  CHECK_FALSE(kata::vc::parseSignal("0").ok());
  CHECK_FALSE(kata::vc::parseSignal("99999").ok());
  CHECK_FALSE(kata::vc::parseSignal("").ok());
}
