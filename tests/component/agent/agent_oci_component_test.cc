// OCI conformance of the agent's container engine, on the host (as root, unix-socket mode): each
// case is a spec field the way runc, Docker or containerd write it, and what runc's process
// ends up with (docs/oci-conformance.md). No VM.
#include <string>
#include <vector>

#include "agent_harness.h"

// CppUTest comes last: its leak-checking macros redefine new.
#include <CppUTest/TestHarness.h>

using kata::agenttest::AgentHarness;

namespace {

std::string codeText(const ::grpc::Status& s) {
  return std::to_string(static_cast<int>(s.error_code())) + " " + s.error_message();
}

struct Outcome {
  ::grpc::Status created;
  ::grpc::Status started;
  std::string out, err;
  int status = -1;
};

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_GROUP(AgentOci) {
  AgentHarness h;
  void setup() override { h.start(); }
  void teardown() override { h.stop(); }

  /// Creates, starts and waits for a container running `spec`; removes it.
  Outcome run(const std::string& cid, const ::grpc::Spec& spec) {
    Outcome o;
    o.created = h.create(cid, spec);
    if (!o.created.ok()) return o;
    o.started = h.start(cid);
    if (o.started.ok()) {
      o.out = h.readAll(cid, "", false);
      o.err = h.readAll(cid, "", true);
      o.status = h.wait(cid, "");
    }
    CHECK(h.remove(cid).ok());
    return o;
  }

  Outcome runOk(const std::string& cid, const ::grpc::Spec& spec) {
    Outcome o = run(cid, spec);
    CHECK_TEXT(o.created.ok(), (codeText(o.created) + "\n" + h.agentLog()).c_str());
    CHECK_TEXT(o.started.ok(), (codeText(o.started) + "\n" + h.agentLog()).c_str());
    CHECK_EQUAL_TEXT(0, o.status, (o.out + o.err).c_str());
    return o;
  }

  ::grpc::Spec spec(const std::string& cid, const std::string& script) {
    h.makeRootfs(cid);
    return h.makeSpec(cid, {"sh", "-c", script});
  }
};

// runc's, Docker's and containerd's default specs start their device rules with "deny
// everything": the default devices must still be created (before the masks need /dev/null)
// and usable, while a device the rules do not allow stays unusable.
TEST(AgentOci, DenyAllDeviceRuleKeepsTheDefaultDevices) {
  std::string cid = "oci-devices";
  auto s = spec(cid,
                "echo x > /dev/null && head -c 3 /dev/zero | wc -c && head -c 2 /dev/urandom | "
                "wc -c && echo x > /dev/full; ls /dev/ptmx /dev/tty /dev/random >/dev/null && "
                "echo nodes-ok; cat /proc/keys | wc -c; echo x > /dev/kmsg-test; "
                "cat /sys/fs/cgroup/devices/devices.list");
  auto* deny = s.mutable_linux()->mutable_resources()->add_devices();
  deny->set_allow(false);
  deny->set_access("rwm");
  auto* kmsg = s.mutable_linux()->add_devices();  // created, but no rule allows it
  kmsg->set_path("/dev/kmsg-test");
  kmsg->set_type("c");
  kmsg->set_major(1);
  kmsg->set_minor(11);
  kmsg->set_filemode(0666);
  Outcome o = runOk(cid, s);
  CHECK_TEXT(contains(o.out, "3\n2\nnodes-ok\n0\n"), o.out.c_str());
  CHECK_TEXT(contains(o.err, "No space left on device"), o.err.c_str());  // /dev/full works
  CHECK_TEXT(contains(o.err, "kmsg-test: Operation not permitted"), o.err.c_str());
  for (const char* rule : {"c 1:3 rwm", "c 1:9 rwm", "c 5:2 rwm", "c 136:* rwm", "c *:* m"}) {
    CHECK_TEXT(contains(o.out, rule), o.out.c_str());
  }
  CHECK_TEXT(!contains(o.out, "a *:* rwm"), o.out.c_str());
}

// runc's default spec lists ambient capabilities that are not inheritable: the kernel refuses
// to raise them, runc runs the process without them, and so do we.
TEST(AgentOci, AmbientCapabilitiesAsRuncRaisesThem) {
  std::string cid = "oci-ambient";
  auto s = spec(cid, "grep -E '^Cap(Inh|Eff|Amb)' /proc/self/status");
  auto* caps = s.mutable_process()->mutable_capabilities();
  caps->Clear();
  for (const char* c : {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}) {
    caps->add_bounding(c);
    caps->add_effective(c);
    caps->add_permitted(c);
    caps->add_ambient(c);
  }
  Outcome o = runOk(cid, s);
  CHECK_TEXT(contains(o.out,
                      "CapInh:\t0000000000000000\nCapEff:\t0000000020000420\n"
                      "CapAmb:\t0000000000000000\n"),
             o.out.c_str());

  // Inheritable and permitted: raised, and a non-root user keeps them across exec.
  cid = "oci-ambient2";
  s = spec(cid, "grep -E '^Cap(Eff|Amb)' /proc/self/status");
  caps = s.mutable_process()->mutable_capabilities();
  caps->Clear();
  for (const char* c : {"CAP_KILL", "CAP_NET_BIND_SERVICE"}) {
    caps->add_bounding(c);
    caps->add_effective(c);
    caps->add_permitted(c);
    caps->add_inheritable(c);
    caps->add_ambient(c);
  }
  s.mutable_process()->mutable_user()->set_uid(1000);
  s.mutable_process()->mutable_user()->set_gid(1000);
  o = runOk(cid, s);
  CHECK_TEXT(contains(o.out, "CapEff:\t0000000000000420\nCapAmb:\t0000000000000420\n"),
             o.out.c_str());
}

// A process without a capabilities object gets none at all, as runc gives it.
TEST(AgentOci, NoCapabilitiesMeansNone) {
  std::string cid = "oci-nocaps";
  auto s = spec(cid, "grep -E '^Cap(Prm|Eff|Bnd)' /proc/self/status");
  s.mutable_process()->clear_capabilities();
  Outcome o = runOk(cid, s);
  CHECK_TEXT(contains(o.out,
                      "CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n"
                      "CapBnd:\t0000000000000000\n"),
             o.out.c_str());
}

// Docker sets sysctls and makes /proc/sys read-only: the sysctls are written first.
TEST(AgentOci, SysctlsAreWrittenBeforeProcSysIsReadOnly) {
  std::string cid = "oci-sysctl";
  auto s =
      spec(cid, "cat /proc/sys/kernel/shmmni; echo 4000 > /proc/sys/kernel/shmmni || echo ro-ok");
  (*s.mutable_linux()->mutable_sysctl())["kernel.shmmni"] = "2048";  // ipc-namespaced
  Outcome o = runOk(cid, s);
  CHECK_TEXT(contains(o.out, "2048\nro-ok\n"), (o.out + o.err).c_str());
}

// process.user.umask (OCI 1.0.2) for the init and an exec'd process; 0022 without it.
TEST(AgentOci, UmaskFromTheSpec) {
  std::string cid = "oci-umask";
  auto s = spec(cid, "umask; touch /tmp/f; stat -c %a /tmp/f; touch /tmp/done; sleep 30");
  s.mutable_process()->mutable_user()->set_umask(027);
  CHECK(h.create(cid, s).ok());
  CHECK(h.start(cid).ok());
  CHECK(h.exec(cid, "e1", {"sh", "-c", "until [ -e /tmp/done ]; do sleep 0.05; done; umask"}).ok());
  STRCMP_EQUAL("0022\n", h.readAll(cid, "e1", false).c_str());
  CHECK(h.signal(cid, "", 9).ok());
  STRCMP_EQUAL("0027\n640\n", h.readAll(cid, "", false).c_str());
  CHECK(h.remove(cid).ok());
  cid = "oci-umask2";
  Outcome o = runOk(cid, spec(cid, "umask"));
  STRCMP_EQUAL("0022\n", o.out.c_str());
}

// linux.personality: LINUX32 makes the process see a 32-bit machine, as with setarch.
TEST(AgentOci, Personality) {
  std::string cid = "oci-personality";
  auto s = spec(cid, "uname -m");
  s.mutable_linux()->mutable_personality()->set_domain("LINUX32");
  Outcome o = runOk(cid, s);
  STRCMP_EQUAL("i686\n", o.out.c_str());
  cid = "oci-personality2";
  s = spec(cid, "uname -m");
  s.mutable_linux()->mutable_personality()->set_domain("LINUX64");
  o = run(cid, s);
  CHECK_EQUAL(::grpc::StatusCode::INVALID_ARGUMENT, o.created.error_code());
  CHECK_TEXT(contains(o.created.error_message(), "linux.personality.domain"),
             o.created.error_message().c_str());
}

// A read-only /dev still gets its device nodes (runc mounts it writable, then remounts it).
TEST(AgentOci, ReadOnlyDevStillHasItsDevices) {
  std::string cid = "oci-devro";
  auto s = spec(cid, "echo x > /dev/null && echo null-ok; touch /dev/x || echo dev-ro");
  for (auto& m : *s.mutable_mounts()) {
    if (m.destination() == "/dev") m.add_options("ro");
  }
  Outcome o = runOk(cid, s);
  CHECK_TEXT(contains(o.out, "null-ok\ndev-ro\n"), (o.out + o.err).c_str());
}

// seccomp: errnoRet (Docker's profile answers clone3 with ENOSYS so that glibc falls back to
// clone), and several conditions on one argument match when any of them does (runc's reading).
TEST(AgentOci, SeccompErrnoRetAndConditionsOnOneArgument) {
  std::string cid = "oci-seccomp";
  auto s = spec(cid,
                "mkdir /tmp/a 2>&1; kill -0 $$ || echo k0-denied; kill -28 $$ || echo k28-denied;"
                " kill -CONT $$ && echo cont-allowed");
  auto* sc = s.mutable_linux()->mutable_seccomp();
  sc->set_defaultaction("SCMP_ACT_ALLOW");
  auto* mkdir = sc->add_syscalls();
  mkdir->add_names("mkdir");
  mkdir->add_names("mkdirat");
  mkdir->set_action("SCMP_ACT_ERRNO");
  mkdir->set_errnoret(38);  // ENOSYS
  auto* kill = sc->add_syscalls();
  kill->add_names("kill");
  kill->set_action("SCMP_ACT_ERRNO");
  for (uint64_t sig : {0, 28}) {  // kill(pid, 0) or kill(pid, SIGWINCH)
    auto* a = kill->add_args();
    a->set_index(1);
    a->set_value(sig);
    a->set_op("SCMP_CMP_EQ");
  }
  Outcome o = runOk(cid, s);
  CHECK_TEXT(contains(o.out, "Function not implemented"), o.out.c_str());
  CHECK_TEXT(contains(o.out, "k0-denied\nk28-denied\ncont-allowed\n"), (o.out + o.err).c_str());
}

// runc's rootless spec: a user namespace mapping root to root, /sys bound rather than mounted.
// Device nodes are bound from the agent's /dev (mknod is refused in a user namespace), and an
// exec'd process joins the user namespace too.
TEST(AgentOci, UserNamespaceWithMappings) {
  std::string cid = "oci-userns";
  auto s = spec(cid,
                "cat /proc/self/uid_map /proc/self/gid_map; id -u; echo x > /dev/null && "
                "echo null-ok; head -c 2 /dev/zero | wc -c; touch /tmp/done; sleep 30");
  s.mutable_linux()->add_namespaces()->set_type("user");
  for (auto* maps :
       {s.mutable_linux()->mutable_uidmappings(), s.mutable_linux()->mutable_gidmappings()}) {
    auto* m = maps->Add();
    m->set_containerid(0);
    m->set_hostid(0);
    m->set_size(1);
  }
  for (auto& m : *s.mutable_mounts()) {
    if (m.destination() == "/sys") {
      // sysfs belongs to the network namespace, which is not the container's to mount.
      m.set_type("none");
      m.set_source("/sys");
      m.add_options("rbind");
    } else if (m.destination() == "/dev/pts") {
      // Group 5 is not mapped (runc spec --rootless leaves gid=5 out too).
      auto* opts = m.mutable_options();
      for (int i = 0; i < opts->size(); ++i) {
        if (opts->Get(i) == "gid=5") opts->erase(opts->begin() + i);
      }
    }
  }
  auto created = h.create(cid, s);
  CHECK_TEXT(created.ok(), (codeText(created) + "\n" + h.agentLog()).c_str());
  CHECK(h.start(cid).ok());
  CHECK(h.exec(cid, "e1",
               {"sh", "-c", "until [ -e /tmp/done ]; do sleep 0.05; done; cat /proc/self/uid_map"})
            .ok());
  std::string execOut = h.readAll(cid, "e1", false);
  CHECK_TEXT(contains(execOut, "0          0          1"), execOut.c_str());
  CHECK(h.signal(cid, "", 9).ok());
  std::string out = h.readAll(cid, "", false);
  CHECK_TEXT(
      contains(out, "0          0          1\n         0          0          1\n0\nnull-ok\n2\n"),
      (out + h.readAll(cid, "", true)).c_str());
  CHECK(h.remove(cid).ok());

  // Mappings need a user namespace, and a user namespace needs mappings.
  cid = "oci-userns2";
  s = spec(cid, "true");
  s.mutable_linux()->add_namespaces()->set_type("user");
  Outcome o = run(cid, s);
  CHECK_EQUAL(::grpc::StatusCode::INVALID_ARGUMENT, o.created.error_code());
  CHECK_TEXT(contains(o.created.error_message(), "linux.uidMappings"),
             o.created.error_message().c_str());
}

// A terminal init's pty is also the container's /dev/console, as runc makes it.
TEST(AgentOci, TerminalInitIsTheConsole) {
  std::string cid = "oci-console";
  h.makeRootfs(cid);
  auto s = h.makeSpec(
      cid,
      {"sh", "-c", "stat -c console=%t:%T /dev/console; stat -L -c stdin=%t:%T /proc/self/fd/0"},
      true);
  auto created = h.create(cid, s);
  CHECK_TEXT(created.ok(), (codeText(created) + "\n" + h.agentLog()).c_str());
  CHECK(h.start(cid).ok());
  std::string out = h.readAll(cid, "", false);
  CHECK_EQUAL(0, h.wait(cid, ""));
  CHECK(h.remove(cid).ok());
  auto console = out.find("console=88:");  // major 136, a pty of the container's devpts
  auto stdinAt = out.find("stdin=88:");
  CHECK_TEXT(console != std::string::npos && stdinAt != std::string::npos, out.c_str());
  CHECK_TEXT(out.substr(console + 8, out.find('\r', console) - console - 8) ==
                 out.substr(stdinAt + 6, out.find('\r', stdinAt) - stdinAt - 6),
             out.c_str());
}
