#include "lib/container_id.h"

#include <string>

// CppUTest comes last: its leak-detection macros break standard headers.
#include <CppUTest/TestHarness.h>

using kata::validateContainerId;

TEST_GROUP(ContainerId){};

TEST(ContainerId, AcceptsRuncIds) {
  CHECK(validateContainerId("abc").ok());
  CHECK(validateContainerId("a1_B2+c3.d-4").ok());
  CHECK(
      validateContainerId("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef").ok());
  CHECK(validateContainerId("...").ok());  // runc allows it: not a parent reference
  CHECK(validateContainerId(std::string(1024, 'x')).ok());
}

TEST(ContainerId, RejectsPathTricks) {
  auto r = validateContainerId("../x");
  CHECK_FALSE(r.ok());
  STRCMP_EQUAL("invalid container id \"../x\": only [A-Za-z0-9_+.-] allowed",
               r.error().message.c_str());
  LONGS_EQUAL(EINVAL, r.error().code);
  CHECK_FALSE(validateContainerId(".").ok());
  CHECK_FALSE(validateContainerId("..").ok());
  CHECK_FALSE(validateContainerId("a/b").ok());
  CHECK_FALSE(validateContainerId("/abs").ok());
}

TEST(ContainerId, RejectsEmptyLongAndOddBytes) {
  auto empty = validateContainerId("");
  CHECK_FALSE(empty.ok());
  CHECK(empty.error().message.find("must not be empty") != std::string::npos);
  CHECK_FALSE(validateContainerId(std::string(1025, 'x')).ok());
  CHECK_FALSE(validateContainerId("a b").ok());
  CHECK_FALSE(validateContainerId(std::string("a\0b", 3)).ok());
  auto ctl = validateContainerId("a\nb");
  CHECK_FALSE(ctl.ok());
  // Control bytes are escaped so the one-line error stays one line.
  CHECK(ctl.error().message.find('\n') == std::string::npos);
  CHECK_FALSE(validateContainerId("caf\xc3\xa9").ok());
}
