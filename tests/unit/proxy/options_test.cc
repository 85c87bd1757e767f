#include "proxy/options.h"

#include <string>
#include <vector>

// CppUTest comes last: its leak-checking macros redefine operator new.
#include <CppUTest/TestHarness.h>

using kata::proxy::parseOptions;

TEST_GROUP(ProxyOptions){};

TEST(ProxyOptions, UpstreamCommandLine) {
  auto o = parseOptions({"-listen-socket", "unix:///run/vc/sbs/x/proxy.sock", "-mux-socket",
                         "/run/vc/vm/x/kata.sock", "-sandbox", "x", "-log", "debug",
                         "-agent-logs-socket", "/run/vc/vm/x/console.sock"});
  CHECK(o.ok());
  STRCMP_EQUAL("/run/vc/sbs/x/proxy.sock", o->listenSocket.c_str());
  STRCMP_EQUAL("/run/vc/vm/x/kata.sock", o->muxSocket.c_str());
  STRCMP_EQUAL("x", o->sandbox.c_str());
  STRCMP_EQUAL("/run/vc/vm/x/console.sock", o->agentLogsSocket.c_str());
  CHECK(o->logLevel == kata::log::Level::Debug);
}

TEST(ProxyOptions, GoFlagSpellings) {
  auto o = parseOptions({"--listen-socket=unix:///a", "-mux-socket=/b", "-debug=false"});
  CHECK(o.ok());
  STRCMP_EQUAL("/a", o->listenSocket.c_str());
  STRCMP_EQUAL("/b", o->muxSocket.c_str());
  CHECK(o->logLevel == kata::log::Level::Warn);  // upstream default
  auto d = parseOptions({"-listen-socket", "unix:///a", "-mux-socket", "/b", "-debug"});
  CHECK(d->logLevel == kata::log::Level::Debug);
}

TEST(ProxyOptions, VersionNeedsNothingElse) {
  auto o = parseOptions({"-version"});
  CHECK(o.ok());
  CHECK(o->version);
  STRCMP_CONTAINS("kata-proxy version ", kata::proxy::versionLine().c_str());
}

TEST(ProxyOptions, RejectsBadInputWithTheFlagName) {
  STRCMP_CONTAINS("-bogus", parseOptions({"-bogus"}).error().message.c_str());
  STRCMP_CONTAINS("-mux-socket",
                  parseOptions({"-listen-socket", "unix:///a"}).error().message.c_str());
  STRCMP_CONTAINS(
      "unix://",
      parseOptions({"-listen-socket", "/a", "-mux-socket", "/b"}).error().message.c_str());
  STRCMP_CONTAINS(
      "unix://",
      parseOptions({"-listen-socket", "unix://", "-mux-socket", "/b"}).error().message.c_str());
  STRCMP_CONTAINS("needs an argument", parseOptions({"-sandbox"}).error().message.c_str());
  STRCMP_CONTAINS("log level", parseOptions({"-log", "loud"}).error().message.c_str());
  STRCMP_CONTAINS("unexpected", parseOptions({"extra"}).error().message.c_str());
}

TEST(ProxyOptions, ForwardNetnsIsAnAbsolutePath) {
  auto o = parseOptions({"-listen-socket", "unix:///a", "-mux-socket", "/b", "-forward-netns",
                         "/var/run/netns/cni-1"});
  CHECK(o.ok());
  STRCMP_EQUAL("/var/run/netns/cni-1", o->forwardNetns.c_str());
  CHECK(o->dnsNetns.empty());
  STRCMP_CONTAINS("-forward-netns", parseOptions({"-listen-socket", "unix:///a", "-mux-socket",
                                                  "/b", "-forward-netns", "cni-1"})
                                        .error()
                                        .message.c_str());
}
