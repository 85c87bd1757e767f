// containerd-shim-kata-v2's command line as containerd 1.6 gives it.
#include "runtime/containerd-shim-v2/options.h"

#include <string>
#include <vector>

// CppUTest comes last: its leak-checking macros redefine operator new.
#include <CppUTest/TestHarness.h>

using namespace kata;
using namespace kata::shimv2;

namespace {

const std::vector<std::string> kBase = {"-namespace",
                                        "default",
                                        "-address",
                                        "/run/containerd/containerd.sock",
                                        "-publish-binary",
                                        "/usr/bin/containerd",
                                        "-id",
                                        "c1"};

std::vector<std::string> with(std::vector<std::string> extra) {
  std::vector<std::string> args = kBase;
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

std::string errorOf(const std::vector<std::string>& args) {
  auto r = parseOptions(args, "/bundle");
  CHECK_FALSE(r.ok());
  return r.error().str();
}

}  // namespace

TEST_GROUP(ShimV2Options){};

TEST(ShimV2Options, StartAsContainerdRunsIt) {
  auto r = parseOptions(with({"-debug", "start"}), "/run/bundle", "/run/containerd/c.sock.ttrpc");
  CHECK_TRUE(r.ok());
  STRCMP_EQUAL("default", r->ns.c_str());
  STRCMP_EQUAL("/run/containerd/containerd.sock", r->address.c_str());
  STRCMP_EQUAL("/usr/bin/containerd", r->publishBinary.c_str());
  STRCMP_EQUAL("c1", r->id.c_str());
  STRCMP_EQUAL("/run/bundle", r->bundle.c_str());  // the working directory
  STRCMP_EQUAL("/run/containerd/c.sock.ttrpc", r->ttrpcAddress.c_str());
  CHECK_TRUE(r->debug);
  CHECK(r->action == Action::Start);
}

TEST(ShimV2Options, DeleteWithBundleAndGoSyntaxes) {
  auto r = parseOptions({"--namespace=k8s.io", "-address=/a.sock", "--id", "x", "-bundle", "/b/x",
                         "-debug=false", "delete"},
                        "/cwd");
  CHECK_TRUE(r.ok());
  STRCMP_EQUAL("k8s.io", r->ns.c_str());
  STRCMP_EQUAL("/a.sock", r->address.c_str());
  STRCMP_EQUAL("containerd", r->publishBinary.c_str());  // containerd's default
  STRCMP_EQUAL("/b/x", r->bundle.c_str());
  CHECK_FALSE(r->debug);
  CHECK(r->action == Action::Delete);
}

TEST(ShimV2Options, NoActionServes) {
  auto r = parseOptions(with({"-debug=true"}), "/b");
  CHECK_TRUE(r.ok());
  CHECK(r->action == Action::Serve);
  CHECK_TRUE(r->debug);
}

TEST(ShimV2Options, VersionNeedsNothingElse) {
  for (const char* flag : {"-v", "--version", "-version"}) {
    auto r = parseOptions({flag}, "/b");
    CHECK_TRUE(r.ok());
    CHECK(r->action == Action::Version);
  }
  STRCMP_CONTAINS("containerd-shim-kata-v2 version ", versionLine().c_str());
}

TEST(ShimV2Options, ErrorsNameTheFlag) {
  STRCMP_EQUAL("flag provided but not defined: -bogus", errorOf(with({"-bogus", "start"})).c_str());
  STRCMP_EQUAL("flag needs an argument: -id", errorOf({"-namespace", "n", "-id"}).c_str());
  STRCMP_CONTAINS("-debug", errorOf(with({"-debug=maybe"})).c_str());
  STRCMP_EQUAL("bad flag syntax: ---id", errorOf({"---id", "x"}).c_str());
  STRCMP_CONTAINS("missing -namespace", errorOf({"-address", "/a", "-id", "x", "start"}).c_str());
  STRCMP_CONTAINS("missing -id", errorOf({"-namespace", "n", "-address", "/a"}).c_str());
  STRCMP_CONTAINS("missing -address", errorOf({"-namespace", "n", "-id", "x"}).c_str());
  STRCMP_CONTAINS("-id: invalid container id \"../x\"",
                  errorOf({"-namespace", "n", "-address", "/a", "-id", "../x"}).c_str());
  STRCMP_EQUAL("unknown action \"stop\" (want start or delete)", errorOf(with({"stop"})).c_str());
  STRCMP_EQUAL("unexpected argument \"now\" after start", errorOf(with({"start", "now"})).c_str());
  STRCMP_CONTAINS("-bundle", errorOf(with({"-bundle", "rel/dir"})).c_str());
}

TEST(ShimV2Options, ToArgsRoundTrips) {
  auto r = parseOptions(with({"-debug", "-bundle", "/b", "start"}), "/cwd");
  CHECK_TRUE(r.ok());
  auto again = parseOptions(toArgs(*r), "/elsewhere");
  CHECK_TRUE(again.ok());
  STRCMP_EQUAL(r->ns.c_str(), again->ns.c_str());
  STRCMP_EQUAL(r->address.c_str(), again->address.c_str());
  STRCMP_EQUAL(r->publishBinary.c_str(), again->publishBinary.c_str());
  STRCMP_EQUAL(r->id.c_str(), again->id.c_str());
  STRCMP_EQUAL("/b", again->bundle.c_str());
  CHECK_TRUE(again->debug);
  CHECK(again->action == Action::Serve);  // the daemon gets no action
}
