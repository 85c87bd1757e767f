#include "agent/channel.h"

#include <sys/stat.h>

#include <fstream>

#include "lib/fs_util.h"
#include "lib/temp_dir.h"

// CppUTest comes last: its leak-checking macros redefine new.
#include <CppUTest/TestHarness.h>

using namespace kata::agent;

TEST_GROUP(AgentChannel){};

TEST(AgentChannel, FindsThePortByItsName) {
  auto dir = kata::TempDir::create("agent-vports-");
  CHECK(dir.ok());
  std::string sys = dir->path() + "/sys";
  for (const char* port : {"vport0p0", "vport1p1", "vport1p2"}) {
    CHECK(kata::mkdirAll(sys + "/" + port, 0755).ok());
  }
  std::ofstream(sys + "/vport0p0/name") << "org.qemu.guest_agent.0\n";
  std::ofstream(sys + "/vport1p2/name") << "agent.channel.0\n";
  auto found = findVirtioPort("agent.channel.0", sys, "/dev");
  CHECK(found.ok());
  STRCMP_EQUAL("/dev/vport1p2", found->c_str());
  auto missing = findVirtioPort("other.port", sys, "/dev");
  CHECK(!missing.ok());
  CHECK_EQUAL(ENOENT, missing.error().code);
}
