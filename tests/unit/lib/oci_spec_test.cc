#include "lib/oci_spec.h"

#include <unistd.h>

#include <string>

#include "lib/fs_util.h"
#include "lib/state_file.h"
#include "lib/temp_dir.h"

// CppUTest comes last: its leak-detection macros break standard headers.
#include <CppUTest/TestHarness.h>

using namespace kata;
using namespace kata::oci;

namespace {

std::string toText(const Json::Value& v) {
  Json::StreamWriterBuilder b;
  b["indentation"] = "";
  return Json::writeString(b, v);
}

// A config.json exercising every field of the model.
const char* kFullSpec = R"({
  "ociVersion": "1.0.2",
  "process": {
    "terminal": true,
    "consoleSize": {"height": 24, "width": 80},
    "user": {"uid": 1000, "gid": 1000, "umask": 18, "additionalGids": [5, 6], "username": "u"},
    "args": ["sh", "-c", "echo hi"],
    "env": ["PATH=/bin", "TERM=xterm"],
    "cwd": "/work",
    "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"],
                     "inheritable": [], "permitted": ["CAP_KILL"], "ambient": ["CAP_KILL"]},
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 512}],
    "noNewPrivileges": true,
    "apparmorProfile": "prof",
    "oomScoreAdj": -500,
    "selinuxLabel": "lbl"
  },
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "box",
  "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
             {"destination": "/data", "type": "bind", "source": "/srv", "options": ["rbind", "ro"]}],
  "hooks": {
    "prestart": [{"path": "/bin/hook", "args": ["hook", "pre"], "env": ["A=1"], "timeout": 5}],
    "createRuntime": [{"path": "/bin/cr"}], "createContainer": [{"path": "/bin/cc"}],
    "startContainer": [{"path": "/bin/sc"}], "poststart": [{"path": "/bin/ps"}],
    "poststop": [{"path": "/bin/pst"}]
  },
  "annotations": {"io.kubernetes.cri.container-type": "sandbox", "x": "y"},
  "linux": {
    "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
    "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
    "sysctl": {"net.ipv4.ip_forward": "1"},
    "resources": {
      "devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}],
      "memory": {"limit": 536870912, "reservation": 1024, "swap": -1, "kernel": 0, "kernelTCP": 0, "swappiness": 60, "disableOOMKiller": false},
      "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "realtimeRuntime": 0, "realtimePeriod": 0, "cpus": "0-1", "mems": "0"},
      "pids": {"limit": 100},
      "blockIO": {"weight": 500, "leafWeight": 300,
                  "weightDevice": [{"major": 8, "minor": 0, "weight": 200}],
                  "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                  "throttleWriteBpsDevice": [], "throttleReadIOPSDevice": [],
                  "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 100}]},
      "hugepageLimits": [{"pageSize": "2MB", "limit": 209715200}],
      "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 500}]}
    },
    "cgroupsPath": "/kata/c1",
    "namespaces": [{"type": "pid"}, {"type": "network", "path": "/var/run/netns/x"},
                   {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "user"},
                   {"type": "cgroup"}],
    "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0}],
    "seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
                "architectures": ["SCMP_ARCH_X86_64"],
                "flags": ["SECCOMP_FILTER_FLAG_LOG"],
                "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                             {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                              "args": [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]},
                             {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]},
    "rootfsPropagation": "rslave",
    "maskedPaths": ["/proc/kcore"],
    "readonlyPaths": ["/proc/sys"],
    "mountLabel": "ml",
    "intelRdt": {"closID": "c", "l3CacheSchema": "L3:0=ff", "memBwSchema": "MB:0=50"},
    "personality": {"domain": "LINUX32", "flags": []}
  },
  "unknownTopLevel": {"ignored": true}
})";

std::string errorOf(const std::string& json) {
  auto r = parseSpec(json);
  return r.ok() ? "(parsed fine)" : r.error().message;
}

// A minimal valid spec with `fragment` spliced in as extra top-level members.
std::string withProcess(const std::string& process) {
  return R"({"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": )" + process + "}";
}

}  // namespace

TEST_GROUP(OciSpec){};

TEST(OciSpec, ParsesEveryField) {
  auto r = parseSpec(kFullSpec);
  if (!r.ok()) FAIL(r.error().message.c_str());
  const Spec& s = *r;
  STRCMP_EQUAL("1.0.2", s.ociVersion.c_str());
  CHECK(s.process->terminal);
  LONGS_EQUAL(80, s.process->consoleSize->width);
  LONGS_EQUAL(1000, s.process->user.uid);
  LONGS_EQUAL(18, *s.process->user.umask);
  LONGS_EQUAL(6, s.process->user.additionalGids[1]);
  STRCMP_EQUAL("echo hi", s.process->args[2].c_str());
  STRCMP_EQUAL("/work", s.process->cwd.c_str());
  STRCMP_EQUAL("CAP_KILL", s.process->capabilities->ambient[0].c_str());
  CHECK(s.process->capabilities->inheritable.empty());
  LONGS_EQUAL(512, s.process->rlimits[0].soft);
  CHECK(s.process->noNewPrivileges);
  LONGS_EQUAL(-500, *s.process->oomScoreAdj);
  STRCMP_EQUAL("rootfs", s.root.path.c_str());
  CHECK(s.root.readonly);
  LONGS_EQUAL(2, s.mounts.size());
  STRCMP_EQUAL("ro", s.mounts[1].options[1].c_str());
  LONGS_EQUAL(5, *s.hooks.prestart[0].timeout);
  STRCMP_EQUAL("/bin/pst", s.hooks.poststop[0].path.c_str());
  STRCMP_EQUAL("sandbox", s.annotations.at("io.kubernetes.cri.container-type").c_str());
  const Linux& l = *s.linux;
  LONGS_EQUAL(100000, l.uidMappings[0].hostID);
  STRCMP_EQUAL("1", l.sysctl.at("net.ipv4.ip_forward").c_str());
  CHECK(*l.resources->memory->limit == 536870912);
  CHECK(*l.resources->memory->swap == -1);
  CHECK(!l.resources->devices[0].major.has_value());
  CHECK(*l.resources->devices[1].major == 1);
  STRCMP_EQUAL("0-1", l.resources->cpu->cpus.c_str());
  CHECK(l.resources->pids->limit == 100);
  LONGS_EQUAL(200, *l.resources->blockIO->weightDevice[0].weight);
  CHECK(l.resources->blockIO->throttleWriteIOPSDevice[0].rate == 100);
  STRCMP_EQUAL("2MB", l.resources->hugepageLimits[0].pageSize.c_str());
  LONGS_EQUAL(500, l.resources->network->priorities[0].priority);
  STRCMP_EQUAL("/var/run/netns/x", l.findNamespace("network")->path.c_str());
  CHECK(l.findNamespace("time") == nullptr);
  LONGS_EQUAL(438, *l.devices[0].fileMode);
  STRCMP_EQUAL("SCMP_CMP_EQ", l.seccomp->syscalls[1].args[0].op.c_str());
  LONGS_EQUAL(1, *l.seccomp->syscalls[2].errnoRet);
  STRCMP_EQUAL("rslave", l.rootfsPropagation.c_str());
  STRCMP_EQUAL("MB:0=50", l.intelRdt->memBwSchema.c_str());
  LONGS_EQUAL(1, *l.seccomp->defaultErrnoRet);
  STRCMP_EQUAL("LINUX32", l.personality->domain.c_str());
}

TEST(OciSpec, AbsenceIsKeptDistinctFromZero) {
  auto r = parseSpec(R"({"ociVersion": "1.0.2", "root": {"path": "r"},
                         "linux": {"resources": {"memory": {"reservation": 0}}}})");
  CHECK(r.ok());
  CHECK_FALSE(r->process.has_value());
  CHECK_FALSE(r->linux->resources->memory->limit.has_value());
  CHECK(r->linux->resources->memory->reservation == 0);
  CHECK_FALSE(r->linux->resources->cpu.has_value());
  CHECK_FALSE(r->linux->seccomp.has_value());
}

TEST(OciSpec, NullMeansAbsent) {
  auto r = parseSpec(R"({"ociVersion": "1.0.2", "root": {"path": "r"}, "hooks": null,
                         "mounts": null, "linux": {"seccomp": null}})");
  CHECK(r.ok());
  CHECK(r->hooks.empty());
  CHECK_FALSE(r->linux->seccomp.has_value());
}

TEST(OciSpec, RoundTripsFullSpec) {
  auto a = parseSpec(kFullSpec);
  CHECK(a.ok());
  auto b = parseSpec(toText(toJson(*a)));
  if (!b.ok()) FAIL(b.error().message.c_str());
  CHECK(*a == *b);
}

TEST(OciSpec, RoundTripsDefaultSpecs) {
  for (bool rootless : {false, true}) {
    Spec s = defaultSpec(rootless);
    auto back = parseSpec(toText(toJson(s)));
    if (!back.ok()) FAIL(back.error().message.c_str());
    CHECK(s == *back);
  }
}

TEST(OciSpec, DefaultSpecIsWhatRuncSpecWrites) {
  Spec s = defaultSpec();
  STRCMP_EQUAL("sh", s.process->args.at(0).c_str());
  CHECK(s.process->terminal);
  STRCMP_EQUAL("rootfs", s.root.path.c_str());
  CHECK(s.root.readonly);
  CHECK(s.process->noNewPrivileges);
  LONGS_EQUAL(3, s.process->capabilities->bounding.size());
  STRCMP_EQUAL("CAP_NET_BIND_SERVICE", s.process->capabilities->permitted[2].c_str());
  CHECK(s.process->capabilities->inheritable.empty());  // as runc 1.1.5 writes it
  STRCMP_EQUAL("RLIMIT_NOFILE", s.process->rlimits.at(0).type.c_str());
  LONGS_EQUAL(1024, s.process->rlimits[0].hard);
  LONGS_EQUAL(7, s.mounts.size());
  STRCMP_EQUAL("/sys/fs/cgroup", s.mounts[6].destination.c_str());
  for (const char* ns : {"pid", "network", "ipc", "uts", "mount"}) {
    CHECK_TEXT(s.linux->findNamespace(ns) != nullptr, ns);
  }
  CHECK(s.linux->findNamespace("user") == nullptr);
  CHECK(!s.linux->maskedPaths.empty());
  CHECK(!s.linux->readonlyPaths.empty());
  CHECK_FALSE(s.linux->resources->devices.at(0).allow);

  Spec r = defaultSpec(true);
  CHECK(r.linux->findNamespace("user") != nullptr);
  CHECK(r.linux->findNamespace("network") == nullptr);
  LONGS_EQUAL(getuid(), r.linux->uidMappings.at(0).hostID);
  LONGS_EQUAL(0, r.linux->uidMappings.at(0).containerID);
  CHECK_FALSE(r.linux->resources.has_value());
  for (const auto& m : r.mounts) CHECK(m.destination != "/sys/fs/cgroup");
}

TEST(OciSpec, TypeErrorsCarryTheJsonPath) {
  STRCMP_EQUAL("config.json: process.args[0]: expected string",
               errorOf(withProcess(R"({"args": [1], "cwd": "/"})")).c_str());
  STRCMP_EQUAL("config.json: process.terminal: expected boolean",
               errorOf(withProcess(R"({"terminal": "yes", "args": ["sh"], "cwd": "/"})")).c_str());
  STRCMP_EQUAL(
      "config.json: process.user.uid: expected unsigned 32-bit integer",
      errorOf(withProcess(R"({"user": {"uid": -1}, "args": ["sh"], "cwd": "/"})")).c_str());
  STRCMP_EQUAL(
      "config.json: process.user.gid: expected unsigned 32-bit integer",
      errorOf(withProcess(R"({"user": {"gid": 4294967296}, "args": ["sh"], "cwd": "/"})")).c_str());
  STRCMP_EQUAL("config.json: linux.resources.memory.limit: expected integer",
               errorOf(R"({"ociVersion": "1", "root": {"path": "r"},
                           "linux": {"resources": {"memory": {"limit": "1G"}}}})")
                   .c_str());
  STRCMP_EQUAL("config.json: linux.resources.memory.limit: expected integer",
               errorOf(R"({"ociVersion": "1", "root": {"path": "r"},
                           "linux": {"resources": {"memory": {"limit": 1.5}}}})")
                   .c_str());
  STRCMP_EQUAL("config.json: mounts[1].options: expected array",
               errorOf(R"({"ociVersion": "1", "root": {"path": "r"},
                           "mounts": [{"destination": "/a"}, {"destination": "/b", "options": "ro"}]})")
                   .c_str());
  STRCMP_EQUAL(
      "config.json: annotations.k: expected string",
      errorOf(R"({"ociVersion": "1", "root": {"path": "r"}, "annotations": {"k": 1}})").c_str());
  STRCMP_EQUAL("config.json: linux.seccomp.syscalls[0].args[0].index: expected 0..5",
               errorOf(R"({"ociVersion": "1", "root": {"path": "r"}, "linux": {"seccomp":
                 {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"],
                  "action": "SCMP_ACT_ERRNO", "args": [{"index": 9, "op": "SCMP_CMP_EQ"}]}]}}})")
                   .c_str());
  STRCMP_EQUAL("config.json: (document): expected object", errorOf("[1, 2]").c_str());
}

TEST(OciSpec, RequiredFields) {
  STRCMP_EQUAL("config.json: ociVersion: required", errorOf(R"({"root": {"path": "r"}})").c_str());
  STRCMP_EQUAL("config.json: root: required", errorOf(R"({"ociVersion": "1"})").c_str());
  STRCMP_EQUAL("config.json: root.path: must not be empty",
               errorOf(R"({"ociVersion": "1", "root": {"path": ""}})").c_str());
  STRCMP_EQUAL("config.json: process.args: must not be empty",
               errorOf(withProcess(R"({"args": [], "cwd": "/"})")).c_str());
  STRCMP_EQUAL("config.json: process.args: required",
               errorOf(withProcess(R"({"cwd": "/"})")).c_str());
  STRCMP_EQUAL("config.json: process.cwd: must be an absolute path, got \"work\"",
               errorOf(withProcess(R"({"args": ["sh"], "cwd": "work"})")).c_str());
  STRCMP_EQUAL("config.json: process.rlimits[0].type: expected RLIMIT_*, got \"NOFILE\"",
               errorOf(withProcess(R"({"args": ["sh"], "cwd": "/",
                                       "rlimits": [{"type": "NOFILE"}]})"))
                   .c_str());
}

TEST(OciSpec, SemanticChecks) {
  STRCMP_EQUAL(
      "config.json: linux.personality.domain: expected \"LINUX\" or \"LINUX32\", got \"LINUX64\"",
      errorOf(R"({"ociVersion": "1", "root": {"path": "r"},
                  "linux": {"personality": {"domain": "LINUX64"}}})")
          .c_str());
  STRCMP_EQUAL("config.json: mounts[0].destination: must be an absolute path, got \"proc\"",
               errorOf(R"({"ociVersion": "1", "root": {"path": "r"},
                           "mounts": [{"destination": "proc"}]})")
                   .c_str());
  STRCMP_EQUAL("config.json: linux.namespaces[0].type: unknown namespace type \"time\"",
               errorOf(R"({"ociVersion": "1", "root": {"path": "r"},
                           "linux": {"namespaces": [{"type": "time"}]}})")
                   .c_str());
  STRCMP_EQUAL("config.json: linux.namespaces[1]: duplicate namespace type \"pid\"",
               errorOf(R"({"ociVersion": "1", "root": {"path": "r"},
                           "linux": {"namespaces": [{"type": "pid"}, {"type": "pid"}]}})")
                   .c_str());
  STRCMP_EQUAL("config.json: linux.rootfsPropagation: unknown propagation \"everywhere\"",
               errorOf(R"({"ociVersion": "1", "root": {"path": "r"},
                           "linux": {"rootfsPropagation": "everywhere"}})")
                   .c_str());
  STRCMP_EQUAL("config.json: hooks.prestart[0].path: must be an absolute path, got \"hook\"",
               errorOf(R"({"ociVersion": "1", "root": {"path": "r"},
                           "hooks": {"prestart": [{"path": "hook"}]}})")
                   .c_str());
  STRCMP_EQUAL(
      "config.json: linux.devices[0].type: expected \"c\", \"b\", \"u\" or \"p\", got "
      "\"x\"",
      errorOf(R"({"ociVersion": "1", "root": {"path": "r"},
                           "linux": {"devices": [{"path": "/dev/x", "type": "x"}]}})")
          .c_str());
  STRCMP_EQUAL(
      "config.json: process.oomScoreAdj: expected -1000..1000",
      errorOf(withProcess(R"({"args": ["sh"], "cwd": "/", "oomScoreAdj": 5000})")).c_str());
}

TEST(OciSpec, MalformedJsonIsOneLine) {
  std::string e = errorOf("{\"ociVersion\": \"1\",\n \"root\": ");
  CHECK(e.rfind("config.json: invalid JSON: ", 0) == 0);
  CHECK(e.find('\n') == std::string::npos);
  CHECK(errorOf("").rfind("config.json: invalid JSON", 0) == 0);
  CHECK(errorOf("{\"ociVersion\": \"1\", \"ociVersion\": \"2\", \"root\": {\"path\": \"r\"}}")
            .find("invalid JSON") != std::string::npos);
}

TEST(OciSpec, InvalidUtf8IsRejectedWithPath) {
  STRCMP_EQUAL(
      "config.json: process.env[0]: invalid UTF-8",
      errorOf(withProcess("{\"args\": [\"sh\"], \"cwd\": \"/\", \"env\": [\"A=\xff\"]}")).c_str());
  STRCMP_EQUAL("config.json: annotations: invalid UTF-8 in key",
               errorOf("{\"ociVersion\": \"1\", \"root\": {\"path\": \"r\"}, "
                       "\"annotations\": {\"\xc0\xaf\": \"x\"}}")
                   .c_str());  // overlong encoding of '/'
  CHECK(errorOf(R"({"ociVersion": "1", "root": {"path": "r"}, "hostname": "\ud800"})")
            .find("invalid JSON") != std::string::npos);  // lone surrogate escape
  auto ok = parseSpec(R"({"ociVersion": "1", "root": {"path": "r"}, "hostname": "caf\u00e9"})");
  CHECK(ok.ok());
  STRCMP_EQUAL("caf\xc3\xa9", ok->hostname.c_str());
}

TEST(OciSpec, DeepNestingAndHugeNumbersDoNotCrash) {
  std::string deep = "{\"ociVersion\": \"1\", \"root\": {\"path\": \"r\"}, \"annotations\": ";
  for (int i = 0; i < 100000; i++) deep += '[';
  CHECK_FALSE(parseSpec(deep).ok());
  CHECK_FALSE(parseSpec(R"({"ociVersion": "1", "root": {"path": "r"},
      "linux": {"resources": {"memory": {"limit": 1e400}}}})")
                  .ok());
  CHECK_FALSE(parseSpec(R"({"ociVersion": "1", "root": {"path": "r"},
      "linux": {"resources": {"memory": {"limit": 99999999999999999999999}}}})")
                  .ok());
  auto big = parseSpec(R"({"ociVersion": "1", "root": {"path": "r"},
      "linux": {"resources": {"memory": {"swappiness": 18446744073709551615}}}})");
  CHECK(big.ok());
  CHECK(*big->linux->resources->memory->swappiness == UINT64_MAX);
}

TEST(OciSpec, LoadSpecFromBundle) {
  auto dir = TempDir::create("oci-spec-test-").value();
  auto missing = loadSpec(dir.path());
  CHECK_FALSE(missing.ok());
  LONGS_EQUAL(ENOENT, missing.error().code);
  CHECK(missing.error().message.find(dir.path() + "/config.json") != std::string::npos);
  auto noBundle = loadSpec(dir.path() + "/nope");
  CHECK_FALSE(noBundle.ok());
  CHECK(noBundle.error().message.find("bundle " + dir.path() + "/nope") != std::string::npos);

  CHECK(writeFileAtomic(dir.path() + "/config.json", kFullSpec, 0644).ok());
  auto ok = loadSpec(dir.path());
  CHECK(ok.ok());
  STRCMP_EQUAL("box", ok->hostname.c_str());

  CHECK(writeFileAtomic(dir.path() + "/config.json", withProcess(R"({"args": [1], "cwd": "/"})"),
                        0644)
            .ok());
  auto bad = loadSpec(dir.path());
  CHECK_FALSE(bad.ok());
  STRCMP_EQUAL((dir.path() + "/config.json: process.args[0]: expected string").c_str(),
               bad.error().message.c_str());
}

TEST(OciSpec, ExecProcessAndUpdateResources) {
  auto p = parseProcess(R"({"args": ["ls"], "cwd": "/", "env": ["A=1"], "terminal": false})",
                        "/tmp/runc-process1");
  CHECK(p.ok());
  STRCMP_EQUAL("ls", p->args[0].c_str());
  auto back = parseProcess(toText(toJson(*p)));
  CHECK(back.ok());
  CHECK(*p == *back);
  auto bad = parseProcess(R"({"args": ["ls"], "cwd": "rel"})", "/tmp/runc-process1");
  STRCMP_EQUAL("/tmp/runc-process1: cwd: must be an absolute path, got \"rel\"",
               bad.error().message.c_str());

  auto r = parseResources(R"({"memory": {"limit": 1048576}, "pids": {"limit": 10}})");
  CHECK(r.ok());
  CHECK(*r->memory->limit == 1048576);
  auto rb = parseResources(toText(toJson(*r)));
  CHECK(rb.ok());
  CHECK(*r == *rb);
  STRCMP_EQUAL("resources: cpu.shares: expected unsigned integer",
               parseResources(R"({"cpu": {"shares": -2}})").error().message.c_str());
}
