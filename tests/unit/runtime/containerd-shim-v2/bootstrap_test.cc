// The `start` and `delete` actions' parts that need no containerd: the socket address
// (containerd's sha256 naming), pod grouping on temporary bundles, the daemon's launch (a fake
// executable stands in for the shim) and the DeleteResponse bytes.
#include "runtime/containerd-shim-v2/bootstrap.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "lib/fs_util.h"
#include "lib/temp_dir.h"
#include "lib/unix_socket.h"
#include "protocols/containerd/task/shim.pb.h"
#include "tests/unit/hex_util.h"

// CppUTest comes last: its leak-checking macros redefine operator new.
#include <CppUTest/TestHarness.h>

using namespace kata;
using namespace kata::shimv2;
using namespace std::chrono_literals;

using kata::testing::hex;

namespace {

// sha256("/run/containerd/containerd.sock/default/c1"), as `printf %s ... | sha256sum` gives it.
constexpr const char* kDigestDefaultC1 =
    "d25aa4ef11a84e954e74a5bcff06557d0b6ea8d0c00243896f29826694bbd888";

void writeBundle(const std::string& dir, const std::string& annotations) {
  CHECK_TRUE(mkdirAll(dir, 0700).ok());
  std::string json = R"({"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "annotations": {)" +
                     annotations + "}}";
  CHECK_TRUE(writeFileAtomic(dir + "/config.json", json, 0600).ok());
}

std::string readOr(const std::string& path) {
  auto r = readFile(path, 1 << 16);
  return r.ok() ? *r : "";
}

template <class Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 1000; i++) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

struct Fixture {
  TempDir tmp;
  BootstrapConfig config;
  Options options;

  Fixture() {
    auto t = TempDir::create("shimv2-boot-");
    CHECK_TRUE(t.ok());
    tmp = std::move(*t);
    config.socketRoot = tmp.path() + "/state";
    // Stands in for the shim daemon: records its arguments, whether fd 3 is a socket and
    // its working directory.
    config.selfExe = tmp.path() + "/fake-shim";
    CHECK_TRUE(writeFileAtomic(config.selfExe,
                               "#!/bin/sh\n{ echo \"$*\"; [ -S /proc/self/fd/3 ] && echo fd3; "
                               "pwd; } > " +
                                   tmp.path() + "/daemon.out.tmp && mv " + tmp.path() +
                                   "/daemon.out.tmp " + tmp.path() + "/daemon.out\n",
                               0700)
                   .ok());
    options.ns = "ns1";
    options.address = tmp.path() + "/containerd.sock";
    options.publishBinary = "/usr/bin/containerd";
    options.action = Action::Start;
  }
  std::string bundle(const std::string& id) { return tmp.path() + "/bundles/" + id; }
};

}  // namespace

TEST_GROUP(ShimV2Bootstrap){};

TEST(ShimV2Bootstrap, SocketAddressIsContainerdsSha256) {
  STRCMP_EQUAL((std::string("unix:///run/containerd/s/") + kDigestDefaultC1).c_str(),
               socketAddress("/run/containerd/containerd.sock", "default", "c1").c_str());
  // filepath.Join cleans: the same digest for a spelling of the same path.
  STRCMP_EQUAL(
      (std::string("unix:///x/s/") + kDigestDefaultC1).c_str(),
      socketAddress("/run//containerd/./containerd.sock/", "default", "c1", "/x/").c_str());
  STRCMP_EQUAL("/x/s/ab", socketPathOf("unix:///x/s/ab").c_str());
  STRCMP_EQUAL("", socketPathOf("/x/s/ab").c_str());
}

TEST(ShimV2Bootstrap, GoPathJoin) {
  STRCMP_EQUAL("a/b", goPathJoin({"a", "", "b"}).c_str());
  STRCMP_EQUAL("/b/c", goPathJoin({"/a/../b", "c"}).c_str());
  STRCMP_EQUAL("/", goPathJoin({"/", ".."}).c_str());
  STRCMP_EQUAL("../a", goPathJoin({"..", "a/"}).c_str());
  STRCMP_EQUAL(".", goPathJoin({"a", ".."}).c_str());
  STRCMP_EQUAL("", goPathJoin({"", ""}).c_str());
}

TEST(ShimV2Bootstrap, NewSandboxStartsTheDaemonOnFd3) {
  Fixture f;
  f.options.id = "sb1";
  f.options.bundle = f.bundle("sb1");
  writeBundle(f.options.bundle, R"("io.kubernetes.cri.container-type": "sandbox")");
  auto address = startShim(f.options, f.config);
  CHECK_TRUE_TEXT(address.ok(), address.ok() ? "" : address.error().str().c_str());
  STRCMP_EQUAL(socketAddress(f.options.address, "ns1", "sb1", f.config.socketRoot).c_str(),
               address->c_str());
  STRCMP_EQUAL(address->c_str(), readOr(f.options.bundle + "/address").c_str());
  struct stat st;
  CHECK_EQUAL(0, ::lstat(socketPathOf(*address).c_str(), &st));
  CHECK_TRUE(S_ISSOCK(st.st_mode));
  LONGS_EQUAL(0600, st.st_mode & 07777);

  CHECK_TRUE(eventually([&] { return !readOr(f.tmp.path() + "/daemon.out").empty(); }));
  std::string out = readOr(f.tmp.path() + "/daemon.out");
  STRCMP_EQUAL(("-namespace ns1 -address " + f.options.address +
                " -publish-binary /usr/bin/containerd -id sb1 -bundle " + f.options.bundle +
                "\nfd3\n" + f.options.bundle + "\n")
                   .c_str(),
               out.c_str());
}

TEST(ShimV2Bootstrap, ServedSandboxIsAnsweredWithoutANewDaemon) {
  Fixture f;
  f.options.id = "sb1";
  f.options.bundle = f.bundle("sb1");
  writeBundle(f.options.bundle, "");
  std::string mine = socketAddress(f.options.address, "ns1", "sb1", f.config.socketRoot);
  CHECK_TRUE(mkdirAll(f.config.socketRoot + "/s", 0700).ok());
  auto listener = listenUnix(socketPathOf(mine));
  CHECK_TRUE(listener.ok());
  auto address = startShim(f.options, f.config);
  CHECK_TRUE(address.ok());
  STRCMP_EQUAL(mine.c_str(), address->c_str());
  STRCMP_EQUAL(mine.c_str(), readOr(f.options.bundle + "/address").c_str());
  std::this_thread::sleep_for(200ms);
  CHECK_EQUAL(-1, ::access((f.tmp.path() + "/daemon.out").c_str(), F_OK));  // none started
}

TEST(ShimV2Bootstrap, PodContainerGetsItsSandboxsShim) {
  Fixture f;
  f.options.id = "c1";
  f.options.bundle = f.bundle("c1");
  writeBundle(f.options.bundle, R"("io.kubernetes.cri.container-type": "container",
                                   "io.kubernetes.cri.sandbox-id": "sb1")");
  std::string sandbox = socketAddress(f.options.address, "ns1", "sb1", f.config.socketRoot);
  CHECK_TRUE(mkdirAll(f.config.socketRoot + "/s", 0700).ok());
  auto listener = listenUnix(socketPathOf(sandbox));
  CHECK_TRUE(listener.ok());

  auto address = startShim(f.options, f.config);
  CHECK_TRUE(address.ok());
  STRCMP_EQUAL(sandbox.c_str(), address->c_str());
  STRCMP_EQUAL(sandbox.c_str(), readOr(f.options.bundle + "/address").c_str());
  std::this_thread::sleep_for(200ms);
  CHECK_EQUAL(-1, ::access((f.tmp.path() + "/daemon.out").c_str(), F_OK));
  // No socket of its own.
  std::string own = socketAddress(f.options.address, "ns1", "c1", f.config.socketRoot);
  CHECK_EQUAL(-1, ::access(socketPathOf(own).c_str(), F_OK));
}

TEST(ShimV2Bootstrap, PodContainerWithoutSandboxShimFails) {
  Fixture f;
  f.options.id = "c1";
  f.options.bundle = f.bundle("c1");
  writeBundle(f.options.bundle, R"("io.kubernetes.cri.container-type": "container",
                                   "io.kubernetes.cri.sandbox-id": "sb9")");
  auto address = startShim(f.options, f.config);
  CHECK_FALSE(address.ok());
  STRCMP_CONTAINS("sandbox sb9 of container c1 has no running shim", address.error().str().c_str());
  CHECK(address.error().str().find('\n') == std::string::npos);
  CHECK_EQUAL(-1, ::access((f.options.bundle + "/address").c_str(), F_OK));
}

TEST(ShimV2Bootstrap, MissingConfigFails) {
  Fixture f;
  f.options.id = "c1";
  f.options.bundle = f.bundle("none");
  auto address = startShim(f.options, f.config);
  CHECK_FALSE(address.ok());
  STRCMP_CONTAINS("bundles/none: No such file or directory", address.error().str().c_str());
  CHECK_TRUE(mkdirAll(f.options.bundle, 0700).ok());
  address = startShim(f.options, f.config);
  CHECK_FALSE(address.ok());
  STRCMP_CONTAINS("config.json", address.error().str().c_str());
}

TEST(ShimV2Bootstrap, DaemonThatCannotStartLeavesNoSocket) {
  Fixture f;
  f.config.selfExe = f.tmp.path() + "/missing-binary";
  f.options.id = "sb1";
  f.options.bundle = f.bundle("sb1");
  writeBundle(f.options.bundle, "");
  auto address = startShim(f.options, f.config);
  CHECK_FALSE(address.ok());
  STRCMP_CONTAINS("start the shim daemon", address.error().str().c_str());
  std::string mine = socketAddress(f.options.address, "ns1", "sb1", f.config.socketRoot);
  CHECK_EQUAL(-1, ::access(socketPathOf(mine).c_str(), F_OK));
  CHECK_EQUAL(-1, ::access((f.options.bundle + "/address").c_str(), F_OK));
}

TEST(ShimV2Bootstrap, DeleteResponseBytes) {
  std::string bytes = deleteResponse(1000000002);  // 1 s + 2 ns after the epoch
  // pid 0 (absent), exit_status 137 (field 2: 10 89 01), exited_at (field 3: {1 s, 2 ns}).
  STRCMP_EQUAL("1089011a0408011002", hex(bytes).c_str());
  containerd::task::v2::DeleteResponse resp;
  CHECK_TRUE(resp.ParseFromString(bytes));
  LONGS_EQUAL(137, resp.exit_status());
  LONGS_EQUAL(0, resp.pid());
}
