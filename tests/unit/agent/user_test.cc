#include "agent/user.h"

// CppUTest comes last: its leak-checking macros redefine new.
#include <CppUTest/TestHarness.h>

using namespace kata::agent;

namespace {
const char* kPasswd =
    "root:x:0:0:root:/root:/bin/sh\n"
    "# comment\n"
    "broken line\n"
    "app:x:1000:1001:App:/home/app:/bin/sh\n";
const char* kGroup = "root:x:0:\nappgrp:x:1001:app\nextra:x:2000:app,root\n";
}  // namespace

TEST_GROUP(AgentUser){};

TEST(AgentUser, ParsesPasswdAndGroupSkippingJunk) {
  auto users = parsePasswd(kPasswd);
  CHECK_EQUAL(2u, users.size());
  STRCMP_EQUAL("app", users[1].name.c_str());
  CHECK_EQUAL(1000u, users[1].uid);
  CHECK_EQUAL(1001u, users[1].gid);
  auto groups = parseGroup(kGroup);
  CHECK_EQUAL(3u, groups.size());
  CHECK_EQUAL(2u, groups[2].members.size());
}

TEST(AgentUser, NumbersFromTheSpecAreKept) {
  UserRequest r;
  r.uid = 1000;
  r.gid = 5;
  r.additionalGids = {7};
  auto u = resolveUser(r, kPasswd, kGroup);
  CHECK(u.ok());
  CHECK_EQUAL(1000u, u->uid);
  CHECK_EQUAL(5u, u->gid);
  CHECK_EQUAL(1u, u->additionalGids.size());
  STRCMP_EQUAL("/home/app", u->home.c_str());
}

TEST(AgentUser, NamesResolveThroughTheContainerFiles) {
  UserRequest r;
  r.uidString = "app";
  r.additionalGidStrings = {"extra", "42"};
  auto u = resolveUser(r, kPasswd, kGroup);
  CHECK(u.ok());
  CHECK_EQUAL(1000u, u->uid);
  CHECK_EQUAL(1001u, u->gid);  // the user's primary group
  CHECK_EQUAL(2u, u->additionalGids.size());
  CHECK_EQUAL(2000u, u->additionalGids[0]);
  CHECK_EQUAL(42u, u->additionalGids[1]);
  r.gidString = "root";
  CHECK_EQUAL(0u, resolveUser(r, kPasswd, kGroup)->gid);
}

TEST(AgentUser, UnknownNamesAreErrorsNamingThem) {
  UserRequest r;
  r.uidString = "ghost";
  auto u = resolveUser(r, kPasswd, kGroup);
  CHECK(!u.ok());
  CHECK(u.error().message.find("ghost") != std::string::npos);
  r.uidString = "0";
  r.gidString = "nogroup";
  CHECK(!resolveUser(r, kPasswd, kGroup).ok());
  // Without passwd/group files only numbers work.
  r.gidString = "";
  auto numeric = resolveUser(r, "", "");
  CHECK(numeric.ok());
  STRCMP_EQUAL("/", numeric->home.c_str());
}
