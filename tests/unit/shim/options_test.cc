#include "shim/options.h"

#include <string>
#include <vector>

// Last: CppUTest redefines operator new for the code that follows.
#include <CppUTest/TestHarness.h>

using kata::shim::Action;
using kata::shim::AgentUrl;
using kata::shim::parseArgs;

namespace {

std::vector<std::string> base() {
  return {"-agent", "unix:///run/vc/sbs/s1/proxy.sock", "-container", "c1", "-exec-id", "e1"};
}

std::string errorOf(const std::vector<std::string>& args) {
  auto r = parseArgs(args);
  if (r.ok()) return "<ok>";
  return r.error().str();
}

}  // namespace

TEST_GROUP(ShimOptions){};

TEST(ShimOptions, UpstreamCommandLineParses) {
  auto args = base();
  args.insert(args.end(), {"-terminal", "-log", "debug", "-agent-logs-socket", "/tmp/c.sock",
                           "-trace", "-proxy-exit-code=false"});
  auto r = parseArgs(args);
  CHECK_TRUE(r.ok());
  CHECK(r->action == Action::Run);
  const auto& o = r->options;
  CHECK(o.agent.scheme == AgentUrl::Scheme::Unix);
  STRCMP_EQUAL("/run/vc/sbs/s1/proxy.sock", o.agent.path.c_str());
  STRCMP_EQUAL("c1", o.container.c_str());
  STRCMP_EQUAL("e1", o.execId.c_str());
  CHECK_TRUE(o.terminal);
  CHECK_TRUE(o.trace);
  CHECK_FALSE(o.proxyExitCode);
  CHECK(o.logLevel == kata::log::Level::Debug);
  STRCMP_EQUAL("/tmp/c.sock", o.agentLogsSocket.c_str());
}

TEST(ShimOptions, DefaultsMatchUpstream) {
  auto r = parseArgs(base());
  CHECK_TRUE(r.ok());
  CHECK_FALSE(r->options.terminal);
  CHECK_TRUE(r->options.proxyExitCode);
  CHECK(r->options.logLevel == kata::log::Level::Warn);
}

TEST(ShimOptions, DoubleDashAndEqualsFormsAreAccepted) {
  auto r = parseArgs(
      {"--agent=vsock://3:1024", "--container", "c1", "-exec-id=c1", "--terminal=true", "--debug"});
  CHECK_TRUE(r.ok());
  CHECK(r->options.agent.scheme == AgentUrl::Scheme::Vsock);
  LONGS_EQUAL(3, r->options.agent.cid);
  LONGS_EQUAL(1024, r->options.agent.port);
  CHECK_TRUE(r->options.terminal);
  CHECK(r->options.logLevel == kata::log::Level::Debug);
}

TEST(ShimOptions, GoBooleanSpellings) {
  for (const char* t : {"1", "t", "T", "true", "TRUE", "True"}) {
    auto args = base();
    args.push_back(std::string("-terminal=") + t);
    CHECK_TRUE(parseArgs(args)->options.terminal);
  }
  for (const char* f : {"0", "f", "F", "false", "FALSE", "False"}) {
    auto args = base();
    args.push_back(std::string("-proxy-exit-code=") + f);
    CHECK_FALSE(parseArgs(args)->options.proxyExitCode);
  }
  auto args = base();
  args.push_back("-terminal=yes");
  STRCMP_EQUAL("-terminal: \"yes\" is not a boolean (true or false)", errorOf(args).c_str());
}

TEST(ShimOptions, WatchedPidfds) {
  auto args = base();
  args.insert(args.end(), {"-watch-pidfd", "3=QEMU", "-watch-pidfd=4=kata-proxy"});
  auto r = parseArgs(args);
  CHECK_TRUE(r.ok());
  const auto& w = r->options.watchPidfds;
  CHECK_EQUAL(2u, w.size());
  CHECK_EQUAL(3, w[0].first);
  STRCMP_EQUAL("QEMU", w[0].second.c_str());
  CHECK_EQUAL(4, w[1].first);
  STRCMP_EQUAL("kata-proxy", w[1].second.c_str());
  for (const char* bad : {"3", "3=", "=QEMU", "x=QEMU", "2=QEMU", "-1=QEMU"}) {
    args = base();
    args.insert(args.end(), {"-watch-pidfd", bad});
    STRCMP_EQUAL(
        ("invalid -watch-pidfd \"" + std::string(bad) + "\" (want FD=NAME, FD above 2)").c_str(),
        errorOf(args).c_str());
  }
}

TEST(ShimOptions, BadFlagsGetClearErrors) {
  auto args = base();
  args.push_back("-bogus");
  STRCMP_EQUAL("flag provided but not defined: -bogus", errorOf(args).c_str());
  STRCMP_EQUAL("flag needs an argument: -container",
               errorOf({"-agent", "unix:///x", "-container"}).c_str());
  STRCMP_EQUAL("bad flag syntax: ---agent", errorOf({"---agent", "x"}).c_str());
  STRCMP_EQUAL("bad flag syntax: -=x", errorOf({"-=x"}).c_str());
  args = base();
  args.push_back("stray");
  STRCMP_EQUAL("unexpected argument \"stray\"", errorOf(args).c_str());
  args = base();
  args.insert(args.end(), {"-log", "loud"});
  STRCMP_EQUAL("invalid -log level \"loud\"", errorOf(args).c_str());
}

TEST(ShimOptions, RequiredFlags) {
  STRCMP_EQUAL("missing -agent <URL>", errorOf({"-container", "c", "-exec-id", "e"}).c_str());
  STRCMP_EQUAL("missing -container <id>",
               errorOf({"-agent", "unix:///x", "-exec-id", "e"}).c_str());
  STRCMP_EQUAL("missing -exec-id <id>",
               errorOf({"-agent", "unix:///x", "-container", "c"}).c_str());
  STRCMP_EQUAL("missing -exec-id <id>",
               errorOf({"-agent", "unix:///x", "-container", "c", "-exec-id", ""}).c_str());
}

TEST(ShimOptions, BadAgentUrlIsAFlagError) {
  auto r = parseArgs({"-agent", "tcp://1.2.3.4:1", "-container", "c", "-exec-id", "e"});
  CHECK_FALSE(r.ok());
  STRCMP_CONTAINS("unsupported agent URL \"tcp://1.2.3.4:1\"", r.error().str().c_str());
}

TEST(ShimOptions, HelpAndVersionNeedNoOtherFlags) {
  CHECK(parseArgs({"-help"})->action == Action::Help);
  CHECK(parseArgs({"--h"})->action == Action::Help);
  CHECK(parseArgs({"-version"})->action == Action::Version);
  CHECK(parseArgs({"--version"})->action == Action::Version);
  STRCMP_CONTAINS("-exec-id value", kata::shim::usage().c_str());
}

TEST(ShimOptions, DoubleDashEndsFlags) {
  auto args = base();
  args.insert(args.end(), {"--", "-terminal"});
  STRCMP_EQUAL("unexpected argument \"-terminal\"", errorOf(args).c_str());
}
