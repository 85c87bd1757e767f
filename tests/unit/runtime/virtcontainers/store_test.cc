#include "runtime/virtcontainers/store.h"

#include <stdlib.h>
#include <unistd.h>

#include <optional>

#include "lib/fs_util.h"
#include "lib/temp_dir.h"

// CppUTest comes last: its leak-detection macros break standard headers.
#include <CppUTest/TestHarness.h>

using kata::vc::SandboxState;

TEST_GROUP(Store) {
  std::optional<kata::TempDir> dir;
  void setup() override {
    auto d = kata::TempDir::create("store");
    CHECK_TRUE(d.ok());
    dir.emplace(std::move(d).value());
    setenv("KATA_VC_RUN_DIR", dir->path().c_str(), 1);
  }
  void teardown() override {
    unsetenv("KATA_VC_RUN_DIR");
    dir.reset();
  }
};

TEST(Store, SandboxNetworkRoundTripsAndBadNamesAreRefused) {
  SandboxState s;
  s.id = "sb1";
  s.agentUrl = "unix:///run/vc/sbs/sb1/proxy.sock";
  s.netns = "/var/run/netns/cni-1";
  s.netInterfaces = {"eth0", "net1"};
  s.netTaps = {"tap0_kata", "tap1_kata"};
  CHECK_TRUE(kata::mkdirAll(kata::vc::StorePaths::sandboxDir("sb1"), 0700).ok());
  CHECK_TRUE(kata::vc::saveSandbox(s).ok());
  auto loaded = kata::vc::loadSandbox("sb1");
  if (!loaded.ok()) FAIL(loaded.error().str().c_str());
  STRCMP_EQUAL("/var/run/netns/cni-1", loaded->netns.c_str());
  CHECK_TRUE(loaded->netInterfaces == s.netInterfaces);
  CHECK_TRUE(loaded->netTaps == s.netTaps);

  // A state file whose interface names could steer the teardown elsewhere is rejected.
  s.netTaps = {"tap0_kata", "../x"};
  CHECK_TRUE(kata::vc::saveSandbox(s).ok());
  auto bad = kata::vc::loadSandbox("sb1");
  CHECK_FALSE(bad.ok());
  CHECK_TRUE(bad.error().message.find("is not an interface name") != std::string::npos);

  // Without a netns nothing about the network is written or read.
  SandboxState plain;
  plain.id = "sb1";
  plain.agentUrl = s.agentUrl;
  CHECK_TRUE(kata::vc::saveSandbox(plain).ok());
  loaded = kata::vc::loadSandbox("sb1");
  CHECK_TRUE(loaded.ok());
  CHECK_TRUE(loaded->netns.empty() && loaded->netTaps.empty());
}

TEST(Store, HostMountsReadBackMustBeMountsOfThatContainer) {
  kata::vc::ContainerState c;
  c.id = "c1";
  c.sandboxId = "sb1";
  c.status = "created";
  const std::string mounts = kata::vc::StorePaths::sharedDir("sb1") + "/mounts";
  c.hostMounts = {mounts + "/c1/rootfs", mounts + "/c1/0123456789abcdef-data"};
  CHECK_TRUE(kata::vc::saveContainer(c).ok());
  auto loaded = kata::vc::loadContainer("sb1", "c1");
  if (!loaded.ok()) FAIL(loaded.error().str().c_str());
  CHECK_TRUE(loaded->hostMounts == c.hostMounts);
  // Paths that would steer teardown's unmount elsewhere: out of the container's directory by
  // "..", into another container's directory, below a mount, or the directory itself.
  for (const std::string& bad :
       {mounts + "/c1/../../x", mounts + "/c1/..", mounts + "/c2/rootfs", mounts + "/c1/rootfs/sub",
        mounts + "/c1/", mounts + "/c1", std::string("/etc")}) {
    c.hostMounts = {bad};
    CHECK_TRUE(kata::vc::saveContainer(c).ok());
    auto r = kata::vc::loadContainer("sb1", "c1");
    CHECK_FALSE_TEXT(r.ok(), bad.c_str());
    CHECK_TRUE(r.error().message.find("is not a mount of this container") != std::string::npos);
  }
}

TEST(Store, LockFilesLiveWhereNoContainerIdReaches) {
  auto lock = kata::vc::lockSandbox("sb1", kata::FileLock::Exclusive);
  CHECK_TRUE(lock.ok());
  const std::string file = kata::vc::StorePaths::lockFile("sb1");
  CHECK_EQUAL(0, access(file.c_str(), F_OK));
  // No sandbox or container directory can be the lock file, whatever its id.
  CHECK_TRUE(kata::vc::StorePaths::sandboxDir(".sb1.lock") != file);
  CHECK_TRUE(file.rfind(kata::vc::StorePaths::runDir() + "/vc/locks/", 0) == 0);
  CHECK_FALSE(kata::vc::lockSandbox("../x", kata::FileLock::Shared).ok());
}

TEST(Store, IndexEntriesAreCreatedOnceEvenWhenRacing) {
  const std::string root = dir->path() + "/root";
  CHECK_TRUE(kata::vc::indexAdd(root, "c1", "sb1", "/b").ok());
  auto again = kata::vc::indexAdd(root, "c1", "sb2", "/b2");
  CHECK_FALSE(again.ok());
  LONGS_EQUAL(EEXIST, again.error().code);
  STRCMP_EQUAL("sb1", kata::vc::indexLookup(root, "c1").value().c_str());
}
