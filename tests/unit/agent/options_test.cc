#include "agent/options.h"

// CppUTest comes last: its leak-checking macros redefine new.
#include <CppUTest/TestHarness.h>

using namespace kata::agent;

TEST_GROUP(AgentOptions){};

TEST(AgentOptions, ParsesEveryOptionInBothForms) {
  auto o = parseArgs({"--listen", "unix:///run/a.sock", "--log-level=debug", "--channel", "none",
                      "--modules-list=/m.list"});
  CHECK(o.ok());
  CHECK_EQUAL(1u, o->listen.size());
  STRCMP_EQUAL("unix:///run/a.sock", o->listen[0].c_str());
  CHECK(o->logLevel == kata::log::Level::Debug);
  CHECK(o->logLevelGiven);
  CHECK(o->channel == ChannelMode::None);
  STRCMP_EQUAL("/m.list", o->modulesList.c_str());
}

TEST(AgentOptions, Defaults) {
  auto o = parseArgs({});
  CHECK(o.ok());
  CHECK(o->listen.empty());
  CHECK(o->channel == ChannelMode::Auto);
  STRCMP_EQUAL("/lib/modules/kata-modules.list", o->modulesList.c_str());
}

TEST(AgentOptions, RejectsBadInput) {
  CHECK(!parseArgs({"--bogus"}).ok());
  CHECK(!parseArgs({"--listen"}).ok());
  CHECK(!parseArgs({"--listen", "tcp://1.2.3.4:1"}).ok());
  CHECK(!parseArgs({"--listen", "unix://relative"}).ok());
  CHECK(!parseArgs({"--channel", "serial"}).ok());
  CHECK(!parseArgs({"--log-level", "loud"}).ok());
}

TEST(AgentOptions, UnixSocketPath) {
  STRCMP_EQUAL("/a/b", unixSocketPath("unix:///a/b")->c_str());
  STRCMP_EQUAL("/a/b", unixSocketPath("unix:/a/b")->c_str());
  CHECK(!unixSocketPath("vsock://3:1024").ok());
}

TEST(AgentOptions, KernelCmdline) {
  auto k = parseKernelCmdline(
      "console=hvc0 quiet agent.log=debug agent.debug_console "
      "agent.use_vsock=false root=/dev/x");
  CHECK(k.debugLog);
  CHECK(k.debugConsole);
  CHECK(!k.useVsock);
  auto d = parseKernelCmdline("console=ttyS0 agent.log=info");
  CHECK(!d.debugLog);
  CHECK(!d.debugConsole);
  CHECK(d.useVsock);
}

TEST(AgentOptions, HostTestRedirections) {
  auto o =
      parseArgs({"--sysfs-root", "/tmp/sys/", "--random-device=/tmp/rnd", "--copy-root", "/tmp/c"});
  CHECK(o.ok());
  STRCMP_EQUAL("/tmp/sys", o->sysfsRoot.c_str());
  STRCMP_EQUAL("/tmp/rnd", o->randomDevice.c_str());
  STRCMP_EQUAL("/tmp/c", o->copyRoot.c_str());
  CHECK(parseArgs({}).value().sysfsRoot.empty());
  CHECK(!parseArgs({"--sysfs-root", "relative"}).ok());
  CHECK(!parseArgs({"--copy-root"}).ok());
}
