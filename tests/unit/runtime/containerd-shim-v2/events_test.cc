// The event publisher against a fake publish binary (a shell script that records its argv and
// stdin per run): order, arguments, payload bytes, failures that do not stop the next events.
#include "runtime/containerd-shim-v2/events.h"

#include <google/protobuf/any.pb.h>

#include <chrono>

#include "lib/fs_util.h"
#include "lib/temp_dir.h"
#include "protocols/containerd/events/task.pb.h"
#include "tests/unit/protobuf_descriptors.h"

// CppUTest comes last: its leak-checking macros redefine operator new.
#include <CppUTest/TestHarness.h>

using namespace kata;
using namespace kata::shimv2;
using namespace std::chrono_literals;

namespace {

// Descriptors built before main: tests/unit/protobuf_descriptors.h.
const bool kDescriptorsBuilt = kata::testing::buildDescriptors<containerd::events::TaskExit>();

struct Fixture {
  TempDir tmp;
  PublisherConfig config;

  explicit Fixture(const std::string& extraScript = "") {
    auto t = TempDir::create("shimv2-events-");
    CHECK_TRUE(t.ok());
    tmp = std::move(*t);
    const std::string d = tmp.path();
    // Run N writes N.args and N.payload; the topic /tasks/oom fails, for the failure test.
    std::string script = "#!/bin/sh\nd=" + d +
                         "\nn=$(cat $d/count 2>/dev/null || echo 0)\n"
                         "echo $((n + 1)) > $d/count\n"
                         "printf '%s\\n' \"$@\" > $d/$n.args\ncat > $d/$n.payload\n" +
                         extraScript +
                         "case \"$*\" in *' /tasks/oom '*) echo 'no containerd' >&2; exit 3;; "
                         "esac\nexit 0\n";
    CHECK_TRUE(writeFileAtomic(d + "/publish", script, 0700).ok());
    config.binary = d + "/publish";
    config.address = "/run/ctrd/containerd.sock";
    config.ns = "ns1";
  }
  std::string file(const std::string& name) {
    auto r = readFile(tmp.path() + "/" + name, 1 << 20);
    return r.ok() ? *r : "<missing>";
  }
};

containerd::events::TaskExit exitEvent(const std::string& id, uint32_t status) {
  containerd::events::TaskExit ev;
  ev.set_container_id(id);
  ev.set_id(id);
  ev.set_pid(42);
  ev.set_exit_status(status);
  ev.mutable_exited_at()->set_seconds(1700000000);
  return ev;
}

}  // namespace

TEST_GROUP(ShimV2Events){};

TEST(ShimV2Events, PublishesInOrderWithContainerdsArguments) {
  Fixture f;
  {
    EventPublisher pub(f.config);
    containerd::events::TaskCreate create;
    create.set_container_id("c1");
    create.set_bundle("/b/c1");
    create.set_pid(42);
    pub.publish(kTopicCreate, create);
    containerd::events::TaskStart start;
    start.set_container_id("c1");
    start.set_pid(42);
    pub.publish(kTopicStart, start);
    pub.publish(kTopicExit, exitEvent("c1", 3));
    pub.close(10000ms);
    LONGS_EQUAL(0, pub.failures());
  }
  STRCMP_EQUAL("3\n", f.file("count").c_str());
  STRCMP_EQUAL(
      "--address\n/run/ctrd/containerd.sock\npublish\n--topic\n/tasks/create\n--namespace\nns1\n",
      f.file("0.args").c_str());
  STRCMP_CONTAINS("--topic\n/tasks/start\n", f.file("1.args").c_str());
  STRCMP_CONTAINS("--topic\n/tasks/exit\n", f.file("2.args").c_str());

  google::protobuf::Any any;
  CHECK_TRUE(any.ParseFromString(f.file("0.payload")));
  STRCMP_EQUAL("containerd.events.TaskCreate", any.type_url().c_str());
  containerd::events::TaskCreate create;
  CHECK_TRUE(create.ParseFromString(any.value()));
  STRCMP_EQUAL("/b/c1", create.bundle().c_str());

  // The exact bytes: Any{type_url (1), value (2)} around the event's own encoding.
  std::string value = exitEvent("c1", 3).SerializeAsString();
  std::string expected = std::string("\x0a\x1a", 2) + "containerd.events.TaskExit" + "\x12" +
                         static_cast<char>(value.size()) + value;
  CHECK_TRUE(expected == f.file("2.payload"));
}

TEST(ShimV2Events, FailedPublishIsNotFatal) {
  Fixture f;
  EventPublisher pub(f.config);
  containerd::events::TaskOOM oom;
  oom.set_container_id("c1");
  pub.publish(kTopicOom, oom);  // the fake binary fails this one
  pub.publish(kTopicExit, exitEvent("c1", 137));
  pub.close(10000ms);
  LONGS_EQUAL(1, pub.failures());
  STRCMP_EQUAL("2\n", f.file("count").c_str());
  STRCMP_CONTAINS("/tasks/exit", f.file("1.args").c_str());
}

TEST(ShimV2Events, MissingBinaryIsLoggedAndCounted) {
  Fixture f;
  f.config.binary = f.tmp.path() + "/no-such-containerd";
  EventPublisher pub(f.config);
  pub.publish(kTopicExit, exitEvent("c1", 0));
  pub.close(10000ms);
  LONGS_EQUAL(1, pub.failures());
}

TEST(ShimV2Events, CloseGivesUpOnAHungBinaryAndDropsTheRest) {
  Fixture f("exec sleep 30\n");
  EventPublisher pub(f.config);
  pub.publish(kTopicExit, exitEvent("c1", 0));
  pub.publish(kTopicExit, exitEvent("c2", 0));
  auto before = std::chrono::steady_clock::now();
  pub.close(300ms);
  auto took = std::chrono::steady_clock::now() - before;
  CHECK_TRUE(took < 5s);  // not the 30 s of the hung run
  LONGS_EQUAL(2, pub.failures());
  pub.publish(kTopicExit, exitEvent("c3", 0));  // after close: dropped, counted
  LONGS_EQUAL(3, pub.failures());
}

TEST(ShimV2Events, FullQueueDropsAfterWaiting) {
  Fixture f("exec sleep 30\n");
  f.config.maxQueued = 1;
  f.config.blockTimeout = 100ms;
  EventPublisher pub(f.config);
  pub.publish(kTopicExit, exitEvent("c1", 0));  // taken by the worker, which hangs
  // Wait until the worker holds it, so that the queue is empty again.
  for (int i = 0; i < 500 && f.file("count") == "<missing>"; i++) {
    std::this_thread::sleep_for(10ms);
  }
  pub.publish(kTopicExit, exitEvent("c2", 0));  // queued
  pub.publish(kTopicExit, exitEvent("c3", 0));  // no room: dropped after 100 ms
  LONGS_EQUAL(1, pub.failures());
  pub.close(100ms);
}
