#include "runtime/virtcontainers/spec_convert.h"

#include <cstdio>

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

// Fields a VM cannot honour and runc would not ignore fail create, naming the field, before
// anything exists; kernel memory (ignored by runc with a warning) is accepted.
TEST(SpecConvert, FieldsTheGuestCannotHonourAreRefusedByName) {
  const char* base = R"({"ociVersion": "1.0.2", "root": {"path": "rootfs"},
                         "process": {"args": ["sh"], "cwd": "/"%s}%s})";
  auto check = [&](const char* process, const char* rest, const char* field) {
    char json[1024];
    std::snprintf(json, sizeof json, base, process, rest);
    auto spec = oci::parseSpec(json);
    CHECK_TEXT(spec.ok(), json);
    auto s = vc::checkGuestCanHonour(*spec);
    if (!field) {
      CHECK_TEXT(s.ok(), s.ok() ? "" : s.error().message.c_str());
      return;
    }
    CHECK_TEXT(!s.ok(), field);
    CHECK_TEXT(s.error().message.rfind(field, 0) == 0, s.error().message.c_str());
  };
  check("", "", nullptr);
  check(R"(, "apparmorProfile": "unconfined")", "", nullptr);
  check(R"(, "apparmorProfile": "docker-default")", "", "process.apparmorProfile");
  check(R"(, "selinuxLabel": "system_u:system_r:container_t:s0")", "", "process.selinuxLabel");
  check("", R"(, "linux": {"mountLabel": "system_u:object_r:container_file_t:s0"})",
        "linux.mountLabel");
  check("", R"(, "linux": {"intelRdt": {"l3CacheSchema": "L3:0=ff"}})", "linux.intelRdt");
  check("", R"(, "linux": {"resources": {"unified": {"memory.high": "1000000"}}})",
        "linux.resources.unified");
  check("", R"(, "hooks": {"createContainer": [{"path": "/bin/true"}]})", "hooks.createContainer");
  check("", R"(, "hooks": {"startContainer": [{"path": "/bin/true"}]})", "hooks.startContainer");
  check("", R"(, "hooks": {"prestart": [{"path": "/bin/true"}]})", nullptr);  // run on the host
  check("", R"(, "linux": {"resources": {"memory": {"kernel": 1048576}}})", nullptr);
}
