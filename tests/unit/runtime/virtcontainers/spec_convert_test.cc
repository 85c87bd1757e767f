#include "runtime/virtcontainers/spec_convert.h"

// CppUTest comes last: its leak-detection macros break standard headers.
#include <CppUTest/TestHarness.h>

using namespace kata;

TEST_GROUP(SpecConvert){};

// The OCI 1.0.2 fields that Kata 1.x's protocol lacks travel in our added fields.
TEST(SpecConvert, UmaskSeccompErrnoAndFlagsAndPersonalityReachTheAgent) {
  auto spec = oci::parseSpec(R"({
    "ociVersion": "1.0.2", "root": {"path": "rootfs"},
    "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0, "umask": 63}},
    "linux": {
      "seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
                  "flags": ["SECCOMP_FILTER_FLAG_LOG"],
                  "syscalls": [{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
                               {"names": ["read"], "action": "SCMP_ACT_ALLOW"}]},
      "personality": {"domain": "LINUX32"}}})");
  CHECK(spec.ok());
  ::grpc::Spec g = vc::toAgentSpec(*spec);
  CHECK(g.process().user().has_umask());
  LONGS_EQUAL(63, g.process().user().umask());
  const auto& sc = g.linux().seccomp();
  LONGS_EQUAL(1, sc.defaulterrnoret());
  STRCMP_EQUAL("SECCOMP_FILTER_FLAG_LOG", sc.flags(0).c_str());
  CHECK(sc.syscalls(0).has_errnoret());
  LONGS_EQUAL(38, sc.syscalls(0).errnoret());
  CHECK_FALSE(sc.syscalls(1).has_errnoret());
  STRCMP_EQUAL("LINUX32", g.linux().personality().domain().c_str());

  spec->process->user.umask.reset();
  CHECK_FALSE(vc::toAgentSpec(*spec).process().user().has_umask());  // the agent's 0022
}
