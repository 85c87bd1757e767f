#include "runtime/cli/output.h"

#include <string>

// CppUTest comes last: its leak-detection macros break standard headers.
#include <CppUTest/TestHarness.h>

using kata::cli::reencodePidList;

TEST_GROUP(Output){};

TEST(Output, PidListReencoded) {
  STRCMP_EQUAL("[1,7,42]\n", reencodePidList("[1, 7,42]").value().c_str());
  STRCMP_EQUAL("[]\n", reencodePidList(" [ ] \n").value().c_str());
}

TEST(Output, PidListFromAHostileGuestRefused) {
  for (const char* bad : {"", "[1,", "{\"a\":1}", "[\"\\u001b[2J\"]", "[1]\x1b]0;x\x07", "[-1]",
                          "[1.5]", "[4294967296]", "[[1]]", "[1] [2]"}) {
    auto r = reencodePidList(bad);
    CHECK_FALSE_TEXT(r.ok(), bad);
    STRCMP_EQUAL("agent returned a malformed pid list", r.error().message.c_str());
  }
}
