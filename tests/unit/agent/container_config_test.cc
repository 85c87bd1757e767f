#include "agent/container_config.h"

#include <linux/seccomp.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <set>

#include "agent/capabilities.h"
#include "agent/cgroups.h"
#include "agent/namespaces.h"
#include "agent/sandbox.h"
#include "agent/seccomp.h"
#include "lib/mount_options.h"
#include "protocols/oci.pb.h"

// CppUTest comes last: its leak-checking macros redefine new.
#include <CppUTest/TestHarness.h>

using namespace kata::agent;

TEST_GROUP(AgentConfig){};

TEST(AgentConfig, ContainerPathsMustBeAbsoluteWithoutDotDot) {
  CHECK(validateContainerPath("/a/b.c/..d", "p").ok());
  CHECK(!validateContainerPath("a/b", "p").ok());
  CHECK(!validateContainerPath("/a/../b", "p").ok());
  CHECK(!validateContainerPath("/..", "p").ok());
  CHECK(!validateContainerPath("", "p").ok());
  CHECK(!validateContainerPath("/" + std::string(5000, 'a'), "p").ok());
  auto e = validateContainerPath("/x/..", "mount destination");
  CHECK(e.error().message.find("mount destination") != std::string::npos);
}

// A privileged container's devices are the guest's, listed as runc lists a host's.
TEST(AgentConfig, DevicesListedAsRuncListsThemForPrivileged) {
  auto devices = listDevices("/dev");
  CHECK_TEXT(devices.ok(), devices.ok() ? "" : devices.error().message.c_str());
  bool null = false;
  for (const auto& d : *devices) {
    if (d.path == "/dev/null") {
      null = true;
      CHECK_EQUAL(S_IFCHR, d.fileType);
      CHECK_EQUAL(1u, d.major);
      CHECK_EQUAL(3u, d.minor);
      CHECK_EQUAL(0666u, d.mode);
    }
    CHECK_TEXT(d.path.rfind("/dev/pts/", 0) != 0, d.path.c_str());
    CHECK_TEXT(d.path != "/dev/console", d.path.c_str());
  }
  CHECK_TRUE(null);
  CHECK_FALSE(listDevices("/nonexistent").ok());
}

TEST(AgentConfig, MountOptions) {
  auto o =
      kata::mount::parseMountOptions({"rbind", "ro", "nosuid", "rprivate", "mode=755", "size=1k"});
  CHECK(o.bind());
  CHECK(o.readonly());
  CHECK((o.flags & MS_REC) && (o.flags & MS_NOSUID));
  CHECK_EQUAL(1u, o.propagation.size());
  CHECK_EQUAL(MS_PRIVATE | MS_REC, o.propagation[0]);
  STRCMP_EQUAL("mode=755,size=1k", o.data.c_str());
  auto rw = kata::mount::parseMountOptions({"ro", "rw"});
  CHECK(!rw.readonly());
}

TEST(AgentConfig, Namespaces) {
  CHECK_EQUAL(CLONE_NEWPID, *namespaceFlag("pid"));
  CHECK_EQUAL(CLONE_NEWNS, *namespaceFlag("mount"));
  CHECK(!namespaceFlag("time-travel").ok());
  STRCMP_EQUAL("mnt", namespaceProcName(CLONE_NEWNS));
  STRCMP_EQUAL("net", namespaceProcName(CLONE_NEWNET));
}

TEST(AgentConfig, SysctlsOnTheHostOnlyWhenNamespaced) {
  CHECK(sysctlAllowed("kernel.shmmax", false));
  CHECK(sysctlAllowed("fs.mqueue.msg_max", false));
  CHECK(!sysctlAllowed("vm.swappiness", false));
  CHECK(!sysctlAllowed("net.ipv4.ip_forward", false));
  CHECK(sysctlAllowed("net.ipv4.ip_forward", true));  // the VM is the sandbox's
}

TEST(AgentConfig, CgroupPaths) {
  STRCMP_EQUAL("/kata/c1", normalizeCgroupPath("", "c1")->c_str());
  STRCMP_EQUAL("/kata/c1", normalizeCgroupPath("system.slice:docker:abc", "c1")->c_str());
  STRCMP_EQUAL("/a/b", normalizeCgroupPath("a//b/./", "c1")->c_str());
  CHECK(!normalizeCgroupPath("/a/../../etc", "c1").ok());
  CHECK(!normalizeCgroupPath("/", "c1").ok());
}

TEST(AgentConfig, CgroupMountsFromMountinfo) {
  auto h = parseCgroupMounts(
      "30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct\n"
      "31 25 0:27 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
      "32 25 0:28 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
      "33 25 0:29 / /proc rw - proc proc rw\n");
  CHECK_EQUAL(2u, h.size());
  STRCMP_EQUAL("/sys/fs/cgroup/cpu,cpuacct", h[0].mountPoint.c_str());
  CHECK_EQUAL(2u, h[0].controllers.size());
  STRCMP_EQUAL("cpuacct", h[0].controllers[1].c_str());
  STRCMP_EQUAL("name=systemd", h[1].controllers[0].c_str());
}

TEST(AgentConfig, Capabilities) {
  grpc::LinuxCapabilities caps;
  caps.add_bounding("CAP_KILL");
  caps.add_bounding("CAP_FUTURE_THING");
  caps.add_effective("cap_chown");
  std::vector<std::string> unknown;
  auto sets = parseCapabilities(caps, &unknown);
  CHECK(sets.ok());
  CHECK_EQUAL(1u, sets->bounding.size());
  CHECK_EQUAL(CAP_KILL, sets->bounding[0]);
  CHECK_EQUAL(CAP_CHOWN, sets->effective[0]);
  CHECK_EQUAL(1u, unknown.size());
  caps.add_permitted("NOT_A_CAP");
  CHECK(!parseCapabilities(caps).ok());
}

TEST(AgentConfig, SeccompCompilesAndRejectsUnknownWords) {
  grpc::LinuxSeccomp profile;
  profile.set_defaultaction("SCMP_ACT_ALLOW");
  profile.add_architectures("SCMP_ARCH_X86_64");
  auto* rule = profile.add_syscalls();
  rule->add_names("mkdir");
  rule->add_names("no_such_syscall_xyz");
  rule->set_action("SCMP_ACT_ERRNO");
  auto* arg = rule->add_args();
  arg->set_index(1);
  arg->set_value(0777);
  arg->set_op("SCMP_CMP_EQ");
  std::vector<std::string> skipped;
  auto bpf = compileSeccomp(profile, &skipped);
  CHECK_TEXT(bpf.ok(), bpf.ok() ? "" : bpf.error().str().c_str());
  CHECK(!bpf->empty());
  CHECK_EQUAL(1u, skipped.size());
  rule->set_action("SCMP_ACT_EXPLODE");
  CHECK(!compileSeccomp(profile).ok());
  rule->set_action("SCMP_ACT_ERRNO");
  arg->set_op("SCMP_CMP_SOMETIMES");
  CHECK(!compileSeccomp(profile).ok());
}

TEST(AgentConfig, AmbientCapabilitiesTheKernelWouldRefuseAreDropped) {
  grpc::LinuxCapabilities caps;
  for (const char* c : {"CAP_KILL", "CAP_CHOWN"}) {
    caps.add_permitted(c);
    caps.add_ambient(c);
  }
  caps.add_inheritable("CAP_KILL");
  caps.add_ambient("CAP_NET_RAW");  // neither permitted nor inheritable
  auto sets = parseCapabilities(caps);
  CHECK(sets.ok());
  auto dropped = dropUnraisableAmbient(*sets);
  CHECK_EQUAL(1u, sets->ambient.size());
  CHECK_EQUAL(CAP_KILL, sets->ambient[0]);
  CHECK_EQUAL(2u, dropped.size());
  STRCMP_EQUAL("CAP_CHOWN", dropped[0].c_str());
  STRCMP_EQUAL("CAP_NET_RAW", dropped[1].c_str());
}

TEST(AgentConfig, DeviceRulesEndWithRuncsDefaults) {
  grpc::LinuxResources r;
  // No rules: deny everything but runc's defaults.
  CHECK_EQUAL(12u, deviceCgroupRules(r)->size());
  STRCMP_EQUAL("a *:* rwm", deviceCgroupRules(r)->front().rule.c_str());
  CHECK(!deviceCgroupRules(r)->front().allow);
  auto* deny = r.add_devices();
  deny->set_allow(false);
  deny->set_access("rwm");
  deny->set_major(-1);
  deny->set_minor(-1);
  auto* fuse = r.add_devices();
  fuse->set_type("c");
  fuse->set_major(10);
  fuse->set_minor(229);
  fuse->set_access("rwm");
  auto rules = deviceCgroupRules(r);
  CHECK(rules.ok());
  CHECK_EQUAL(14u, rules->size());
  CHECK(!(*rules)[1].allow);
  STRCMP_EQUAL("a *:* rwm", (*rules)[1].rule.c_str());
  STRCMP_EQUAL("c 10:229 rwm", (*rules)[2].rule.c_str());
  std::set<std::string> allowed;
  for (size_t i = 3; i < rules->size(); ++i) {
    CHECK((*rules)[i].allow);
    allowed.insert((*rules)[i].rule);
  }
  for (const char* d : {"c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm",
                        "c 1:9 rwm", "c 5:0 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm"}) {
    CHECK_TEXT(allowed.count(d), d);
  }
  fuse->set_access("rwx");
  CHECK(!deviceCgroupRules(r).ok());
}

TEST(AgentConfig, SeccompFlagsAndErrnoRet) {
  grpc::LinuxSeccomp profile;
  profile.set_defaultaction("SCMP_ACT_ALLOW");
  profile.add_flags("SECCOMP_FILTER_FLAG_LOG");
  auto* rule = profile.add_syscalls();
  rule->add_names("getppid");
  rule->set_action("SCMP_ACT_ERRNO");
  rule->set_errnoret(38);
  auto program = compileSeccomp(profile);
  CHECK_TEXT(program.ok(), program.ok() ? "" : program.error().str().c_str());
  CHECK_EQUAL(static_cast<unsigned>(SECCOMP_FILTER_FLAG_LOG), program->flags);
  // The filter answers ENOSYS, not EPERM: run it in a child.
  pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (!installSeccomp(*program).ok()) ::_exit(100);
    errno = 0;
    long rc = ::syscall(SYS_getppid);
    ::_exit(rc == -1 ? errno : 101);
  }
  int status = 0;
  CHECK_EQUAL(pid, ::waitpid(pid, &status, 0));
  CHECK(WIFEXITED(status));
  CHECK_EQUAL(ENOSYS, WEXITSTATUS(status));
  rule->set_errnoret(70000);
  CHECK(!compileSeccomp(profile).ok());
  rule->clear_errnoret();
  profile.add_flags("SECCOMP_FILTER_FLAG_BOGUS");
  auto bad = compileSeccomp(profile);
  CHECK(!bad.ok());
  CHECK(bad.error().message.find("SECCOMP_FILTER_FLAG_BOGUS") != std::string::npos);
}

TEST(AgentConfig, ResolvConf) {
  STRCMP_EQUAL("nameserver 1.1.1.1\nsearch example.com\n",
               resolvConf({"1.1.1.1", "search example.com"}).c_str());
}
