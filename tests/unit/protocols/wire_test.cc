// Pins the agent API's wire format: a few messages serialised by the generated code must give
// exactly the bytes computed by hand from the field numbers and protobuf's encoding rules.
#include <string>

#include "protocols/agent.pb.h"
#include "protocols/health.pb.h"
#include "protocols/oci.pb.h"
#include "tests/unit/hex_util.h"

// CppUTest comes last: its leak-checking macros redefine operator new.
#include <CppUTest/TestHarness.h>

using kata::testing::hex;

TEST_GROUP(Wire){};

TEST(Wire, SignalProcessRequest) {
  grpc::SignalProcessRequest req;
  req.set_container_id("c1");  // field 1, wire type 2: 0x0a len "c1"
  req.set_exec_id("e");        // field 2, wire type 2: 0x12 len "e"
  req.set_signal(9);           // field 3, varint: 0x18 0x09
  STRCMP_EQUAL("0a0263311201651809", hex(req.SerializeAsString()).c_str());
}

TEST(Wire, ReadStreamRequestLenIsField3Varint) {
  grpc::ReadStreamRequest req;
  req.set_len(300);  // 300 = 0xac 0x02 as a varint
  STRCMP_EQUAL("18ac02", hex(req.SerializeAsString()).c_str());
}

TEST(Wire, WaitProcessResponseNegativeStatus) {
  grpc::WaitProcessResponse resp;
  resp.set_status(-1);  // int32 -1 is sign-extended to a 10-byte varint
  STRCMP_EQUAL("08ffffffffffffffffff01", hex(resp.SerializeAsString()).c_str());
}

TEST(Wire, CreateContainerRequestNestsSpecAtField6) {
  grpc::CreateContainerRequest req;
  req.set_container_id("a");
  req.mutable_oci()->set_hostname("h");  // Spec.Hostname = field 4
  req.set_sandbox_pidns(true);           // field 7 varint
  // 0a 01 'a' | 32 03 (22 01 'h') | 38 01
  STRCMP_EQUAL("0a0161320322016838" "01", hex(req.SerializeAsString()).c_str());
}

TEST(Wire, ProcessArgsAndTerminal) {
  grpc::Process p;
  p.set_terminal(true);  // field 1 varint: 08 01
  p.add_args("sh");      // field 4: 22 02 "sh"
  p.set_cwd("/");        // field 6: 32 01 "/"
  STRCMP_EQUAL("0801220273683201" "2f", hex(p.SerializeAsString()).c_str());
}

TEST(Wire, HealthCheckResponseServing) {
  grpc::HealthCheckResponse r;
  r.set_status(grpc::HealthCheckResponse::SERVING);
  STRCMP_EQUAL("0801", hex(r.SerializeAsString()).c_str());
}

TEST(Wire, CopyFileRequestFieldNumbers) {
  grpc::CopyFileRequest r;
  r.set_path("p");       // 0a 01 70
  r.set_file_mode(420);  // field 3 varint: 18 a4 03
  r.set_uid(-1);         // field 5 int32 -1: 28 ff*9 01
  r.set_data("x");       // field 8: 42 01 78
  STRCMP_EQUAL("0a0170" "18a403" "28ffffffffffffffffff01" "420178",
               hex(r.SerializeAsString()).c_str());
}

TEST(Wire, DecodesHandEncodedExecRequest) {
  // ExecProcessRequest{container_id:"c", exec_id:"x", process:{Args:["ls"]}} encoded by hand.
  const std::string bytes("\x0a\x01" "c" "\x12\x01" "x" "\x22\x04" "\x22\x02" "ls", 12);
  grpc::ExecProcessRequest req;
  CHECK_TRUE(req.ParseFromString(bytes));
  STRCMP_EQUAL("c", req.container_id().c_str());
  STRCMP_EQUAL("x", req.exec_id().c_str());
  LONGS_EQUAL(1, req.process().args_size());
  STRCMP_EQUAL("ls", req.process().args(0).c_str());
}
