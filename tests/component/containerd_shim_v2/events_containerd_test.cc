// EventPublisher against a real containerd 1.6: a private containerd (its own root, state and
// sockets under a temp dir, the CRI plugin disabled) takes our events through its `publish`
// command, and `ctr events` shows them, which it does only for an event whose type URL it can
// decode. Fails (never skips silently) when containerd or ctr is missing.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "lib/child_process.h"
#include "lib/fs_util.h"
#include "lib/temp_dir.h"
#include "lib/unique_fd.h"
#include "lib/unix_socket.h"
#include "protocols/containerd/events/task.pb.h"
#include "runtime/containerd-shim-v2/events.h"
#include "tests/unit/protobuf_descriptors.h"

// CppUTest comes last: its leak-checking macros redefine operator new.
#include <CppUTest/TestHarness.h>

using namespace kata;
using namespace kata::shimv2;
using namespace std::chrono_literals;

namespace {

// Descriptors built before main: tests/unit/protobuf_descriptors.h.
const bool kDescriptorsBuilt = kata::testing::buildDescriptors<containerd::events::TaskExit>();

constexpr const char* kNamespace = "shimv2fr-events";

std::string which(const std::string& name) {
  for (const char* dir : {"/usr/bin/", "/usr/local/bin/", "/usr/sbin/"}) {
    if (::access((dir + name).c_str(), X_OK) == 0) return dir + name;
  }
  return "";
}

/// A containerd of our own, stopped (SIGTERM, then SIGKILL) and removed with the fixture.
struct PrivateContainerd {
  TempDir dir;
  std::string socket;
  ChildProcess daemon;
  UniqueFd logFd;

  Status start(const std::string& binary) {
    KATA_ASSIGN_OR_RETURN(dir, TempDir::create("/tmp/shimv2fr-ctrd-"));
    socket = dir.path() + "/containerd.sock";
    const std::string config =
        "version = 2\nroot = \"" + dir.path() + "/root\"\nstate = \"" + dir.path() + "/state\"\n" +
        "disabled_plugins = [\"io.containerd.grpc.v1.cri\", \"io.containerd.internal.v1.opt\"]\n" +
        "[grpc]\n  address = \"" + socket + "\"\n" + "[ttrpc]\n  address = \"" + socket +
        ".ttrpc\"\n" + "[debug]\n  address = \"\"\n[metrics]\n  address = \"\"\n";
    KATA_TRY(writeFileAtomic(dir.path() + "/config.toml", config, 0600));
    logFd.reset(
        ::open((dir.path() + "/containerd.log").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    SpawnOptions o;
    o.argv = {binary, "--config", dir.path() + "/config.toml"};
    o.stderrFd = logFd.get();
    o.stdoutFd = logFd.get();
    KATA_ASSIGN_OR_RETURN(daemon, ChildProcess::spawn(o));
    KATA_TRY_CTX(connectUnix(socket, 20000), "containerd did not listen");
    return okStatus();
  }
  ~PrivateContainerd() {
    if (daemon.pid() > 0) {
      (void)daemon.signal(SIGTERM);
      for (int i = 0; i < 500; i++) {
        auto r = daemon.tryWait();
        if (!r.ok() || r->has_value()) break;
        std::this_thread::sleep_for(10ms);
      }
    }
  }
};

std::string readOr(const std::string& path) {
  auto r = readFile(path, 1 << 20);
  return r.ok() ? *r : "";
}

}  // namespace

TEST_GROUP(ShimV2ContainerdEvents){};

TEST(ShimV2ContainerdEvents, CtrEventsSeesPublishedTaskEvents) {
  const std::string containerd = which("containerd");
  const std::string ctr = which("ctr");
  if (containerd.empty() || ctr.empty()) FAIL("containerd and ctr are needed (make deps)");

  PrivateContainerd ctrd;
  Status started = ctrd.start(containerd);
  CHECK_TRUE_TEXT(started.ok(), (started.ok() ? ""
                                              : started.error().str() + "\n" +
                                                    readOr(ctrd.dir.path() + "/containerd.log"))
                                    .c_str());

  // `ctr events` prints "<time> <namespace> <topic> <event as JSON>" for each event.
  const std::string eventsOut = ctrd.dir.path() + "/events.out";
  UniqueFd out(::open(eventsOut.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  SpawnOptions watch;
  watch.argv = {ctr, "--address", ctrd.socket, "events"};
  watch.stdoutFd = out.get();
  watch.stderrFd = out.get();
  auto watcher = ChildProcess::spawn(watch);
  CHECK_TRUE(watcher.ok());
  std::this_thread::sleep_for(500ms);  // subscribed before we publish

  // The exit through the publish binary, the OOM over containerd's ttrpc socket (with a
  // binary that does not exist: only the ttrpc path can deliver it).
  {
    EventPublisher pub(PublisherConfig{containerd, ctrd.socket, kNamespace, ""});
    containerd::events::TaskExit exit;
    exit.set_container_id("shimv2fr-c1");
    exit.set_id("shimv2fr-c1");
    exit.set_pid(77);
    exit.set_exit_status(3);
    exit.mutable_exited_at()->set_seconds(1700000000);
    pub.publish(kTopicExit, exit);
    pub.close(20000ms);
    LONGS_EQUAL(0, pub.failures());
  }
  {
    EventPublisher pub(PublisherConfig{"/nonexistent/containerd", ctrd.socket, kNamespace,
                                       ctrd.socket + ".ttrpc"});
    containerd::events::TaskOOM oom;
    oom.set_container_id("shimv2fr-c1");
    pub.publish(kTopicOom, oom);
    pub.close(20000ms);
    LONGS_EQUAL(0, pub.failures());
  }

  std::string seen;
  for (int i = 0; i < 500; i++) {
    seen = readOr(eventsOut);
    if (seen.find("/tasks/oom") != std::string::npos) break;
    std::this_thread::sleep_for(20ms);
  }
  (void)watcher->signal(SIGKILL);
  (void)watcher->wait();
  STRCMP_CONTAINS((std::string(kNamespace) + " /tasks/exit").c_str(), seen.c_str());
  STRCMP_CONTAINS("\"container_id\":\"shimv2fr-c1\"", seen.c_str());
  STRCMP_CONTAINS("\"exit_status\":3", seen.c_str());
  STRCMP_CONTAINS((std::string(kNamespace) + " /tasks/oom").c_str(), seen.c_str());
  CHECK_TRUE(seen.find("/tasks/exit") < seen.find("/tasks/oom"));  // in order
}
