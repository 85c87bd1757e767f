#include "agent/modules.h"

#include <sys/stat.h>

#include <cerrno>
#include <fstream>

#include "lib/temp_dir.h"

// CppUTest comes last: its leak-checking macros redefine new.
#include <CppUTest/TestHarness.h>

using namespace kata::agent;

TEST_GROUP(AgentModules){};

TEST(AgentModules, ParsesPathsAndParametersInOrder) {
  auto list = parseModuleList(
      "# generated\n"
      "/lib/modules/6.1/virtio_console.ko\n"
      "\n"
      "/lib/modules/6.1/9pnet_virtio.ko  debug=1   foo=bar\n");
  CHECK(list.ok());
  CHECK_EQUAL(2u, list->size());
  STRCMP_EQUAL("/lib/modules/6.1/virtio_console.ko", (*list)[0].path.c_str());
  STRCMP_EQUAL("", (*list)[0].params.c_str());
  STRCMP_EQUAL("debug=1 foo=bar", (*list)[1].params.c_str());
}

TEST(AgentModules, RelativePathIsAnErrorNamingTheLine) {
  auto list = parseModuleList("/ok.ko\nvirtio.ko\n");
  CHECK(!list.ok());
  CHECK(list.error().message.find("line 2") != std::string::npos);
}

TEST(AgentModules, MissingModuleFilesAreSkippedNotFatal) {
  auto dir = kata::TempDir::create("agent-modules-");
  CHECK(dir.ok());
  std::string path = dir->path() + "/kata-modules.list";
  std::ofstream(path) << dir->path() << "/missing1.ko\n" << dir->path() << "/missing2.ko x=1\n";
  auto loaded = loadModules(path);
  CHECK(loaded.ok());
  CHECK_EQUAL(0u, *loaded);
  CHECK(!loadModules(dir->path() + "/no-such-list").ok());
}

TEST(AgentModules, RequestedModulesAlreadyInTheKernelNeedNoFile) {
  auto dir = kata::TempDir::create("agent-modules-");
  CHECK(dir.ok());
  std::string sys = dir->path() + "/sys-module";
  CHECK_EQUAL(0, ::mkdir(sys.c_str(), 0755));
  CHECK_EQUAL(0, ::mkdir((sys + "/9pnet_virtio").c_str(), 0755));
  std::string list = dir->path() + "/kata-modules.list";
  std::ofstream(list) << dir->path() << "/9p.ko\n";
  // Loaded (or built in) under its kernel name; dashes and underscores are the same.
  CHECK(requireModules({{"9pnet-virtio", {}}, {"9pnet_virtio", {"debug=1"}}}, list, sys).ok());
  // Listed, but its file is missing: the error names it.
  auto s = requireModules({{"9p", {}}}, list, sys);
  CHECK(!s.ok());
  STRCMP_CONTAINS("9p.ko", s.error().str().c_str());
  // Neither in the kernel nor in the list.
  s = requireModules({{"vhost_vsock", {}}}, list, sys);
  CHECK(!s.ok());
  CHECK_EQUAL(ENOENT, s.error().code);
  STRCMP_CONTAINS("vhost_vsock", s.error().str().c_str());
  CHECK(!requireModules({{"../../x", {}}}, list, sys).ok());
  CHECK(!requireModules({{"", {}}}, list, sys).ok());
}
