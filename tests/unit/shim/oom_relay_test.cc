#include "shim/oom_relay.h"

// CppUTest comes last: its leak-detection macros break standard headers.
#include <CppUTest/TestHarness.h>

using kata::shim::ownMemoryCgroup;

TEST_GROUP(OomRelay){};

TEST(OomRelay, FindsTheV1MemoryCgroupAndRefusesTheRootAndV2) {
  auto dir =
      ownMemoryCgroup("9:name=systemd:/\n4:memory:/kt/abc\n2:cpu,cpuacct:/kt/abc\n0::/\n", "/mem");
  CHECK_TRUE(dir.ok());
  STRCMP_EQUAL("/mem/kt/abc", dir->c_str());
  auto shared = ownMemoryCgroup("3:cpu,memory:/x\n", "/m");
  CHECK_TRUE(shared.ok());
  STRCMP_EQUAL("/m/x", shared->c_str());
  auto root = ownMemoryCgroup("4:memory:/\n", "/mem");
  CHECK_FALSE(root.ok());
  CHECK_TRUE(root.error().message.find("root memory cgroup") != std::string::npos);
  auto v2 = ownMemoryCgroup("0::/user.slice\n", "/mem");
  CHECK_FALSE(v2.ok());
  CHECK_TRUE(v2.error().message.find("cgroup v2") != std::string::npos);
  CHECK_FALSE(ownMemoryCgroup("4:memory:/a/../b\n", "/mem").ok());
}
