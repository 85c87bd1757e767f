#include "agent_harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "lib/fs_util.h"
#include "lib/mount.h"

// CppUTest comes last: its leak-checking macros redefine new.
#include <CppUTest/TestHarness.h>

namespace kata::agenttest {

namespace {

void writeText(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

/// Removes the test cgroup parent in every hierarchy (children first).
void removeTestCgroups() {
  DIR* d = ::opendir("/sys/fs/cgroup");
  if (!d) return;
  while (dirent* e = ::readdir(d)) {
    std::string parent = std::string("/sys/fs/cgroup/") + e->d_name + kTestCgroupParent;
    DIR* p = ::opendir(parent.c_str());
    if (!p) continue;
    while (dirent* c = ::readdir(p)) {
      std::string name = c->d_name;
      if (c->d_type == DT_DIR && name != "." && name != "..")
        ::rmdir((parent + "/" + name).c_str());
    }
    ::closedir(p);
    ::rmdir(parent.c_str());
  }
  ::closedir(d);
}

}  // namespace

std::unique_ptr<::grpc::ClientContext> deadlineContext(int ms) {
  auto ctx = std::make_unique<::grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(ms));
  return ctx;
}

void AgentHarness::startAgent(const std::string& netns, const std::vector<std::string>& extraArgs) {
  CHECK_EQUAL_TEXT(0u, ::geteuid(), "the agent component tests need root");
  auto dir = TempDir::create("kata-agent-test-");
  CHECK_TEXT(dir.ok(), "create temp dir");
  dir_ = std::move(dir).value();
  CHECK(mkdirAll(sharedDir(), 0755).ok());
  logPath_ = base() + "/agent.log";
  int logFd = ::open(logPath_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  CHECK(logFd >= 0);
  std::string sock = base() + "/agent.sock";
  SpawnOptions so;
  so.argv = {KATA_AGENT_BIN, "--listen", "unix://" + sock, "--log-level", "debug",
             "--channel",    "none"};
  so.argv.insert(so.argv.end(), extraArgs.begin(), extraArgs.end());
  // nsenter joins only the network namespace, then execs the agent (same pid).
  if (!netns.empty()) so.argv.insert(so.argv.begin(), {"nsenter", "--net=" + netns});
  so.stderrFd = logFd;
  so.stdoutFd = logFd;
  auto child = ChildProcess::spawn(so);
  ::close(logFd);
  CHECK_TEXT(child.ok(), child.ok() ? "" : child.error().str().c_str());
  agentProcess_ = std::move(child).value();

  channel_ = ::grpc::CreateChannel("unix:" + sock, ::grpc::InsecureChannelCredentials());
  agent_ = ::grpc::AgentService::NewStub(channel_);
  health_ = ::grpc::Health::NewStub(channel_);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  for (;;) {
    ::grpc::CheckRequest req;
    ::grpc::HealthCheckResponse resp;
    auto ctx = deadlineContext(1000);
    if (::access(sock.c_str(), F_OK) == 0 && health_->Check(ctx.get(), req, &resp).ok()) break;
    if (std::chrono::steady_clock::now() > deadline)
      FAIL(("agent did not start: " + agentLog()).c_str());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void AgentHarness::stop() {
  agent_.reset();
  health_.reset();
  channel_.reset();
  if (agentProcess_.pid() > 0) {
    (void)agentProcess_.signal(SIGTERM);
    bool exited = false;
    for (int i = 0; i < 200 && !exited; ++i) {
      auto r = agentProcess_.tryWait();
      exited = r.ok() && r->has_value();
      if (!exited) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!exited) {
      (void)agentProcess_.signal(SIGKILL);
      (void)agentProcess_.wait();
    }
  }
  if (!dir_.path().empty()) (void)mount::unmountAllUnder(dir_.path());
  removeTestCgroups();
  dir_ = TempDir();
}

std::string AgentHarness::agentLog() const {
  auto text = readFile(logPath_, 64 << 20);
  if (!text.ok()) return "";
  const std::string& s = *text;
  return s.size() > 4000 ? s.substr(s.size() - 4000) : s;
}

std::string AgentHarness::makeRootfs(const std::string& cid) {
  std::string root = sharedDir() + "/" + cid + "/rootfs";
  for (const char* d : {"bin", "proc", "sys", "dev", "tmp", "etc", "root", "home/tester"}) {
    CHECK(mkdirAll(root + "/" + d, 0755).ok());
  }
  ::chmod((root + "/tmp").c_str(), 01777);
  {
    std::ifstream in("/bin/busybox", std::ios::binary);
    std::ofstream out(root + "/bin/busybox", std::ios::binary);
    out << in.rdbuf();
  }
  ::chmod((root + "/bin/busybox").c_str(), 0755);
  auto list = runCommand({"/bin/busybox", "--list"}, 10);
  CHECK(list.ok());
  std::istringstream names(*list);
  std::string name;
  while (std::getline(names, name)) {
    if (name.empty() || name == "busybox") continue;
    ::symlinkat("busybox", AT_FDCWD, (root + "/bin/" + name).c_str());
  }
  writeText(root + "/etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\n"
            "tester:x:1000:1000:Tester:/home/tester:/bin/sh\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
  writeText(root + "/etc/group",
            "root:x:0:\ntesters:x:1000:tester\nextra:x:2000:tester\nnogroup:x:65534:\n");
  return root;
}

::grpc::Spec AgentHarness::makeSpec(const std::string& cid, const std::vector<std::string>& args,
                                    bool terminal) {
  ::grpc::Spec spec;
  spec.set_version("1.0.2");
  auto* p = spec.mutable_process();
  p->set_terminal(terminal);
  if (terminal) {
    p->mutable_consolesize()->set_height(24);
    p->mutable_consolesize()->set_width(80);
  }
  for (const auto& a : args) p->add_args(a);
  p->add_env("PATH=/bin");
  p->add_env("TERM=xterm");
  p->set_cwd("/");
  for (const char* cap :
       {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"}) {
    p->mutable_capabilities()->add_bounding(cap);
    p->mutable_capabilities()->add_effective(cap);
    p->mutable_capabilities()->add_permitted(cap);
  }
  auto* rl = p->add_rlimits();
  rl->set_type("RLIMIT_NOFILE");
  rl->set_hard(1024);
  rl->set_soft(1024);
  p->set_nonewprivileges(true);
  spec.mutable_root()->set_path(sharedDir() + "/" + cid + "/rootfs");
  spec.set_hostname("testhost");
  auto addMount = [&](const char* dest, const char* type, const char* src,
                      std::vector<std::string> opts) {
    auto* m = spec.add_mounts();
    m->set_destination(dest);
    m->set_type(type);
    m->set_source(src);
    for (auto& o : opts) m->add_options(o);
  };
  addMount("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"});
  addMount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"});
  addMount("/dev/pts", "devpts", "devpts",
           {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"});
  addMount("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"});
  addMount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"});
  addMount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"});
  addMount("/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"});
  auto* linux = spec.mutable_linux();
  for (const char* ns : {"pid", "ipc", "uts", "mount"}) linux->add_namespaces()->set_type(ns);
  linux->set_cgroupspath(std::string(kTestCgroupParent) + "/" + cid);
  for (const char* m : {"/proc/kcore", "/proc/keys", "/sys/firmware"}) linux->add_maskedpaths(m);
  for (const char* r : {"/proc/sys", "/proc/sysrq-trigger", "/proc/bus"}) {
    linux->add_readonlypaths(r);
  }
  linux->mutable_resources()->mutable_pids()->set_limit(1024);
  linux->mutable_resources()->mutable_memory()->set_limit(512ll << 20);
  return spec;
}

::grpc::Status AgentHarness::create(const std::string& cid, const ::grpc::Spec& spec) {
  ::grpc::CreateContainerRequest req;
  req.set_container_id(cid);
  req.set_exec_id(cid);
  *req.mutable_oci() = spec;
  ::google::protobuf::Empty resp;
  auto ctx = deadlineContext(30000);
  return agent_->CreateContainer(ctx.get(), req, &resp);
}

::grpc::Status AgentHarness::start(const std::string& cid) {
  ::grpc::StartContainerRequest req;
  req.set_container_id(cid);
  ::google::protobuf::Empty resp;
  auto ctx = deadlineContext(30000);
  return agent_->StartContainer(ctx.get(), req, &resp);
}

std::string AgentHarness::createAndStart(const std::string& cid,
                                         const std::vector<std::string>& args, bool terminal) {
  makeRootfs(cid);
  auto s = create(cid, makeSpec(cid, args, terminal));
  if (s.ok()) s = start(cid);
  if (s.ok()) return "";
  return std::to_string(static_cast<int>(s.error_code())) + " " + s.error_message() + "\n" +
         agentLog();
}

std::string AgentHarness::readAll(const std::string& cid, const std::string& execId,
                                  bool stderrStream, ::grpc::Status* status, uint32_t chunk) {
  std::string out;
  for (;;) {
    ::grpc::ReadStreamRequest req;
    req.set_container_id(cid);
    req.set_exec_id(execId);
    req.set_len(chunk);
    ::grpc::ReadStreamResponse resp;
    auto ctx = deadlineContext(30000);
    auto s = stderrStream ? agent_->ReadStderr(ctx.get(), req, &resp)
                          : agent_->ReadStdout(ctx.get(), req, &resp);
    if (!s.ok() || resp.data().empty()) {
      if (status) *status = s;
      return out;
    }
    out += resp.data();
  }
}

int AgentHarness::wait(const std::string& cid, const std::string& execId, int timeoutMs) {
  ::grpc::WaitProcessRequest req;
  req.set_container_id(cid);
  req.set_exec_id(execId);
  ::grpc::WaitProcessResponse resp;
  auto ctx = deadlineContext(timeoutMs);
  auto s = agent_->WaitProcess(ctx.get(), req, &resp);
  return s.ok() ? resp.status() : -1000;
}

::grpc::Status AgentHarness::remove(const std::string& cid) {
  ::grpc::RemoveContainerRequest req;
  req.set_container_id(cid);
  req.set_timeout(10);
  ::google::protobuf::Empty resp;
  auto ctx = deadlineContext(30000);
  return agent_->RemoveContainer(ctx.get(), req, &resp);
}

::grpc::Status AgentHarness::signal(const std::string& cid, const std::string& execId,
                                    uint32_t sig) {
  ::grpc::SignalProcessRequest req;
  req.set_container_id(cid);
  req.set_exec_id(execId);
  req.set_signal(sig);
  ::google::protobuf::Empty resp;
  auto ctx = deadlineContext(10000);
  return agent_->SignalProcess(ctx.get(), req, &resp);
}

::grpc::Status AgentHarness::exec(const std::string& cid, const std::string& execId,
                                  const std::vector<std::string>& args, bool terminal,
                                  const ::grpc::StringUser* user) {
  ::grpc::ExecProcessRequest req;
  req.set_container_id(cid);
  req.set_exec_id(execId);
  auto* p = req.mutable_process();
  for (const auto& a : args) p->add_args(a);
  p->add_env("PATH=/bin");
  p->set_cwd("/");
  p->set_terminal(terminal);
  if (user) *req.mutable_string_user() = *user;
  ::google::protobuf::Empty resp;
  auto ctx = deadlineContext(30000);
  return agent_->ExecProcess(ctx.get(), req, &resp);
}

}  // namespace kata::agenttest
