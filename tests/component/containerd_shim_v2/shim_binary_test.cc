// containerd-shim-kata-v2's process model without containerd, as containerd 1.6 drives it:
// `start` in the bundle prints an address and leaves a daemon serving it (writing its log into
// the bundle's `log` FIFO), a second `start` finds the same daemon, Connect and Shutdown over
// ttrpc, the daemon exits and removes its socket; `delete` prints a DeleteResponse; a pod
// container whose sandbox has no shim fails in one line. Needs no VM: no task is created.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "lib/child_process.h"
#include "lib/fs_util.h"
#include "lib/temp_dir.h"
#include "lib/ttrpc_client.h"
#include "lib/unique_fd.h"
#include "protocols/containerd/task/shim.pb.h"
#include "runtime/containerd-shim-v2/bootstrap.h"
#include "runtime/containerd-shim-v2/task_handler.h"
#include "tests/unit/protobuf_descriptors.h"

// CppUTest comes last: its leak-checking macros redefine operator new.
#include <CppUTest/TestHarness.h>

using namespace kata;
using namespace kata::shimv2;
using namespace std::chrono_literals;

namespace {

// Descriptors built before main: tests/unit/protobuf_descriptors.h.
const bool kDescriptorsBuilt =
    kata::testing::buildDescriptors<containerd::task::v2::DeleteResponse>();

constexpr const char* kNamespace = "shimv2fr";

struct Shim {
  TempDir tmp;
  std::string bundle;
  std::string fakeContainerd;  // only hashed into the socket name: unique to this test run
  UniqueFd logReader;
  pid_t daemonPid = -1;

  Shim() {
    auto t = TempDir::create("/tmp/shimv2fr-bin-");
    CHECK_TRUE(t.ok());
    tmp = std::move(*t);
    bundle = tmp.path() + "/bundle";
    fakeContainerd = tmp.path() + "/containerd.sock";
    CHECK_TRUE(mkdirAll(bundle, 0700).ok());
    CHECK_TRUE(writeFileAtomic(bundle + "/config.json",
                               R"({"ociVersion": "1.0.2", "root": {"path": "rootfs"}})", 0600)
                   .ok());
    // containerd makes the FIFO and reads it before it runs start.
    CHECK_EQUAL(0, ::mkfifo((bundle + "/log").c_str(), 0600));
    logReader.reset(::open((bundle + "/log").c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    CHECK_TRUE(logReader.valid());
  }
  ~Shim() {
    // A daemon left by a failed check: it is ours to stop.
    if (daemonPid > 0 && processAlive(daemonPid)) ::kill(daemonPid, SIGKILL);
  }

  std::string id() const { return "shimv2fr-" + std::to_string(::getpid()); }

  /// Runs the shim with containerd's flags and `action` in the bundle; its stdout.
  Result<std::string> run(const std::string& action, const std::string& dir) {
    std::string cmd = "cd '" + dir + "' && exec '" SHIM_BIN "' -namespace " + kNamespace +
                      " -address '" + fakeContainerd + "' -publish-binary /bin/true -id " + id() +
                      " -debug " + action;
    return runCommand({"/bin/sh", "-c", cmd}, 30);
  }

  std::string drainLog() {
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(logReader.get(), buf, sizeof buf)) > 0) out.append(buf, n);
    return out;
  }
};

}  // namespace

TEST_GROUP(ShimV2Binary){};

TEST(ShimV2Binary, StartServeShutdown) {
  Shim shim;
  auto address = shim.run("start", shim.bundle);
  CHECK_TRUE_TEXT(address.ok(), address.ok() ? "" : address.error().str().c_str());
  STRCMP_EQUAL(socketAddress(shim.fakeContainerd, kNamespace, shim.id()).c_str(), address->c_str());
  auto written = readFile(shim.bundle + "/address", 4096);
  CHECK_TRUE(written.ok());
  STRCMP_EQUAL(address->c_str(), written->c_str());

  const std::string path = socketPathOf(*address);
  auto client = ttrpc::Client::connect(path, 10000);
  CHECK_TRUE(client.ok());
  containerd::task::v2::ConnectRequest connect;
  connect.set_id(shim.id());
  auto reply = (*client)->call(kTaskService, "Connect", connect.SerializeAsString(), 10s);
  CHECK_TRUE(reply.ok() && reply->ok());
  containerd::task::v2::ConnectResponse connected;
  CHECK_TRUE(connected.ParseFromString(reply->payload));
  shim.daemonPid = static_cast<pid_t>(connected.shim_pid());
  CHECK_TRUE(shim.daemonPid > 0 && processAlive(shim.daemonPid));

  // A second start finds the running daemon.
  auto again = shim.run("start", shim.bundle);
  CHECK_TRUE(again.ok());
  STRCMP_EQUAL(address->c_str(), again->c_str());
  reply = (*client)->call(kTaskService, "Connect", connect.SerializeAsString(), 10s);
  CHECK_TRUE(reply.ok() && reply->ok());
  CHECK_TRUE(connected.ParseFromString(reply->payload));
  LONGS_EQUAL(shim.daemonPid, connected.shim_pid());

  containerd::task::v2::ShutdownRequest shutdown;
  shutdown.set_id(shim.id());
  reply = (*client)->call(kTaskService, "Shutdown", shutdown.SerializeAsString(), 10s);
  CHECK_TRUE(reply.ok());
  bool gone = false;
  for (int i = 0; i < 1000 && !gone; i++) {
    gone = !processAlive(shim.daemonPid);
    if (!gone) std::this_thread::sleep_for(10ms);
  }
  CHECK_TRUE_TEXT(gone, "the daemon did not exit after Shutdown");
  struct stat st;
  CHECK_EQUAL(-1, ::lstat(path.c_str(), &st));  // its socket is removed

  // Its log lines went to containerd's FIFO, logrus text with the pod's id.
  std::string log = shim.drainLog();
  STRCMP_CONTAINS("msg=\"serving the task API\"", log.c_str());
  STRCMP_CONTAINS(("sandbox=" + shim.id()).c_str(), log.c_str());
}

TEST(ShimV2Binary, DeletePrintsTheDeleteResponse) {
  Shim shim;
  auto out = shim.run("-bundle '" + shim.bundle + "' delete", shim.bundle);
  CHECK_TRUE_TEXT(out.ok(), out.ok() ? "" : out.error().str().c_str());
  containerd::task::v2::DeleteResponse resp;
  CHECK_TRUE(resp.ParseFromString(*out));
  LONGS_EQUAL(137, resp.exit_status());
  LONGS_EQUAL(0, resp.pid());
  CHECK_TRUE(resp.exited_at().seconds() > 1700000000);
}

TEST(ShimV2Binary, PodContainerWithoutSandboxShimFailsInOneLine) {
  Shim shim;
  CHECK_TRUE(writeFileAtomic(shim.bundle + "/config.json",
                             R"({"ociVersion": "1.0.2", "root": {"path": "rootfs"},
                                 "annotations": {"io.kubernetes.cri.container-type": "container",
                                 "io.kubernetes.cri.sandbox-id": "shimv2fr-nosuch"}})",
                             0600)
                 .ok());
  std::string cmd = "cd '" + shim.bundle + "' && '" SHIM_BIN "' -namespace shimv2fr -address '" +
                    shim.fakeContainerd + "' -id shimv2fr-c start 2>&1; echo \"exit=$?\"";
  auto out = runCommand({"/bin/sh", "-c", cmd}, 30);
  CHECK_TRUE(out.ok());
  const std::string expected =
      "containerd-shim-kata-v2: sandbox shimv2fr-nosuch of container shimv2fr-c has no running "
      "shim (nothing listens on " +
      socketPathOf(socketAddress(shim.fakeContainerd, "shimv2fr", "shimv2fr-nosuch")) +
      ")\nexit=1\n";
  STRCMP_EQUAL(expected.c_str(), out->c_str());
}
