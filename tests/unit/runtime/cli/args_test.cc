#include "runtime/cli/args.h"

#include <CppUTest/TestHarness.h>

using kata::cli::FlagSpec;
using kata::cli::parseArgs;

namespace {
const std::vector<FlagSpec> kSpecs = {
    {{"bundle", "b"}, true, ""},
    {{"detach", "d"}, false, ""},
    {{"env", "e"}, true, ""},
};
}

TEST_GROUP(Args){};

TEST(Args, LongShortAndInlineValues) {
  auto r = parseArgs({"--bundle", "/b", "-d", "--env=A=1", "-e", "B=2", "id"}, kSpecs, false);
  CHECK_TRUE(r.ok());
  STRCMP_EQUAL("/b", r->get("bundle").c_str());
  CHECK_TRUE(r->flag("detach").value());
  LONGS_EQUAL(2, r->all("env").size());
  STRCMP_EQUAL("A=1", r->all("env")[0].c_str());
  LONGS_EQUAL(1, r->positional.size());
  STRCMP_EQUAL("id", r->positional[0].c_str());
}

TEST(Args, InterspersedFlagsUnlessStopped) {
  auto loose = parseArgs({"id", "--detach"}, kSpecs, false);
  CHECK_TRUE(loose->flag("detach").value());
  auto strict = parseArgs({"id", "sh", "-d"}, kSpecs, true);
  CHECK_FALSE(strict->flag("detach").value());
  LONGS_EQUAL(3, strict->positional.size());
}

TEST(Args, UnknownFlagAndMissingValueFail) {
  auto unknown = parseArgs({"--nope"}, kSpecs, false);
  CHECK_FALSE(unknown.ok());
  STRCMP_EQUAL("flag provided but not defined: -nope", unknown.error().message.c_str());
  auto missing = parseArgs({"--bundle"}, kSpecs, false);
  CHECK_FALSE(missing.ok());
  STRCMP_EQUAL("flag needs an argument: -bundle", missing.error().message.c_str());
}

TEST(Args, BooleanValueValidation) {
  auto r = parseArgs({"--detach=maybe"}, kSpecs, false);
  CHECK_TRUE(r.ok());
  CHECK_FALSE(r->flag("detach").ok());
  CHECK_FALSE(parseArgs({"--detach=false"}, kSpecs, false)->flag("detach").value());
}

TEST(Args, DoubleDashEndsFlags) {
  auto r = parseArgs({"--", "-d"}, kSpecs, false);
  LONGS_EQUAL(1, r->positional.size());
  STRCMP_EQUAL("-d", r->positional[0].c_str());
}
