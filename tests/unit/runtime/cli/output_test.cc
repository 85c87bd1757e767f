#include "runtime/cli/output.h"

#include <string>

// CppUTest comes last: its leak-detection macros break standard headers.
#include <CppUTest/TestHarness.h>

using kata::cli::pidListJson;

TEST_GROUP(Output){};

TEST(Output, PidListAsRuncPrintsIt) {
  STRCMP_EQUAL("[1,7,42]\n", pidListJson({1, 7, 42}).c_str());
  STRCMP_EQUAL("[5]\n", pidListJson({5}).c_str());
  STRCMP_EQUAL("[]\n", pidListJson({}).c_str());
}
