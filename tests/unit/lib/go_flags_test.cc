// Go flag package syntax (lib/go_flags.h).
#include "lib/go_flags.h"

// CppUTest comes last: its leak-checking macros redefine operator new.
#include <CppUTest/TestHarness.h>

using namespace kata;

namespace {

constexpr GoFlag kFlags[] = {{"name", false, "a name"}, {"debug", true, "debug"}};

}  // namespace

TEST_GROUP(GoFlags){};

TEST(GoFlags, SyntaxesAndPositional) {
  auto r = parseGoFlags({"-name", "a", "--name=b", "-debug", "run", "-name", "c"}, kFlags);
  CHECK_TRUE(r.ok());
  STRCMP_EQUAL("b", r->get("name").c_str());  // the last one wins
  LONGS_EQUAL(3, r->flags.size());
  CHECK_TRUE(r->flag("debug"));
  LONGS_EQUAL(3, r->positional.size());  // flags end at the first non-flag
  STRCMP_EQUAL("run", r->positional[0].c_str());
}

TEST(GoFlags, BoolTakesNoSeparateValueAndDoubleDashEnds) {
  auto r = parseGoFlags({"-debug=false", "--", "-name"}, kFlags);
  CHECK_TRUE(r.ok());
  CHECK_FALSE(r->flag("debug"));
  CHECK_TRUE(r->has("debug"));
  CHECK_FALSE(r->has("name"));
  LONGS_EQUAL(1, r->positional.size());
  STRCMP_EQUAL("-name", r->positional[0].c_str());
  STRCMP_EQUAL("x", r->get("name", "x").c_str());
}

TEST(GoFlags, HelpAndErrors) {
  auto h = parseGoFlags({"-h"}, kFlags);
  CHECK_TRUE(h.ok());
  CHECK_TRUE(h->help);
  STRCMP_EQUAL("flag provided but not defined: -x",
               parseGoFlags({"-x"}, kFlags).error().str().c_str());
  STRCMP_EQUAL("flag needs an argument: -name",
               parseGoFlags({"-name"}, kFlags).error().str().c_str());
  STRCMP_EQUAL("bad flag syntax: -=x", parseGoFlags({"-=x"}, kFlags).error().str().c_str());
  CHECK_FALSE(parseGoFlags({"-debug=yes"}, kFlags).ok());
  STRCMP_CONTAINS("  -name value\n", goFlagsUsage("p", kFlags).c_str());
}
