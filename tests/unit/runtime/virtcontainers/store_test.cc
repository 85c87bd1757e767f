#include "runtime/virtcontainers/store.h"

#include <stdlib.h>

#include <optional>

#include "lib/fs_util.h"
#include "lib/temp_dir.h"

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
