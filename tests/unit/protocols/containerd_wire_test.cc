// Pins the wire format of our containerd protos (protocols/containerd/): messages serialised by
// the generated code must give exactly the bytes computed by hand from containerd 1.6's field
// numbers, so that a wrong number or type fails here rather than against containerd.

#include <string>

#include "protocols/containerd/cgroups/metrics.pb.h"
#include "protocols/containerd/events/task.pb.h"
#include "protocols/containerd/runtimeoptions/api.pb.h"
#include "protocols/containerd/task/shim.pb.h"
#include "tests/unit/hex_util.h"
#include "tests/unit/protobuf_descriptors.h"

// CppUTest comes last: its leak-checking macros redefine operator new.
#include <CppUTest/TestHarness.h>

using kata::testing::hex;

namespace {

// Descriptors built before main (type names below): tests/unit/protobuf_descriptors.h.
const bool kDescriptorsBuilt =
    kata::testing::buildDescriptors<containerd::events::TaskExit, runtimeoptions::v1::Options>();

}  // namespace

TEST_GROUP(ContainerdWire){};

TEST(ContainerdWire, CreateTaskRequestBytesAndRoundTrip) {
  containerd::task::v2::CreateTaskRequest req;
  req.set_id("c1");                          // 1: 0a 02 "c1"
  req.set_bundle("/b");                      // 2: 12 02 "/b"
  req.add_rootfs()->set_type("o");           // 3: 1a 03 { Mount.type 1: 0a 01 "o" }
  req.set_terminal(true);                    // 4: 20 01
  req.set_stdout("o");                       // 6: 32 01 "o"
  req.mutable_options()->set_type_url("t");  // 10: 52 03 { Any.type_url 1: 0a 01 "t" }
  const std::string wire = req.SerializeAsString();
  STRCMP_EQUAL(
      "0a026331"
      "12022f62"
      "1a030a016f"
      "2001"
      "32016f"
      "52030a0174",
      hex(wire).c_str());

  containerd::task::v2::CreateTaskRequest back;
  CHECK(back.ParseFromString(wire));
  STRCMP_EQUAL("c1", back.id().c_str());
  STRCMP_EQUAL("/b", back.bundle().c_str());
  LONGS_EQUAL(1, back.rootfs_size());
  STRCMP_EQUAL("o", back.rootfs(0).type().c_str());
  CHECK(back.terminal());
  STRCMP_EQUAL("", back.stdin().c_str());
  STRCMP_EQUAL("o", back.stdout().c_str());
  STRCMP_EQUAL("t", back.options().type_url().c_str());
}

TEST(ContainerdWire, DeleteResponse) {
  containerd::task::v2::DeleteResponse resp;
  resp.set_exit_status(137);                 // 2: 10 89 01
  resp.mutable_exited_at()->set_seconds(1);  // 3: 1a 04 { 08 01 10 02 }
  resp.mutable_exited_at()->set_nanos(2);
  STRCMP_EQUAL("1089011a0408011002", hex(resp.SerializeAsString()).c_str());
}

TEST(ContainerdWire, StateResponseStatusIsField4) {
  containerd::task::v2::StateResponse resp;
  resp.set_status(containerd::v1::types::STOPPED);  // 4: 20 03
  resp.set_exec_id("e");                            // 11: 5a 01 "e"
  STRCMP_EQUAL("20035a0165", hex(resp.SerializeAsString()).c_str());
}

TEST(ContainerdWire, TaskExitEvent) {
  containerd::events::TaskExit ev;
  ev.set_container_id("c");                // 1: 0a 01 "c"
  ev.set_id("e");                          // 2: 12 01 "e"
  ev.set_pid(5);                           // 3: 18 05
  ev.set_exit_status(1);                   // 4: 20 01
  ev.mutable_exited_at()->set_seconds(1);  // 5: 2a 02 { 08 01 }
  STRCMP_EQUAL(
      "0a016312016518052001"
      "2a020801",
      hex(ev.SerializeAsString()).c_str());
  STRCMP_EQUAL("containerd.events.TaskExit", ev.GetTypeName().c_str());
}

TEST(ContainerdWire, MetricsTwoByteTag) {
  io::containerd::cgroups::v1::Metrics m;
  m.mutable_memory()->mutable_usage()->set_usage(7);  // 4: 22 05 { 33: 8a 02 02 { 2: 10 07 } }
  m.mutable_pids()->set_current(3);                   // 2: 12 02 { 1: 08 03 }
  STRCMP_EQUAL(
      "12020803"
      "22058a02021007",
      hex(m.SerializeAsString()).c_str());
}

TEST(ContainerdWire, RuntimeOptionsConfigPath) {
  runtimeoptions::v1::Options o;
  o.set_config_path("/c");  // 2: 12 02 "/c"
  STRCMP_EQUAL("12022f63", hex(o.SerializeAsString()).c_str());
  STRCMP_EQUAL("runtimeoptions.v1.Options", o.GetTypeName().c_str());
}
