#include "shim/oom_relay.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <thread>

#include "lib/fs_util.h"
#include "lib/parse.h"
#include "lib/unique_fd.h"

namespace kata::shim {
namespace {

constexpr int64_t kHeadroom = 4 << 20;  // above the usage: the limit while relaying
constexpr int kMaxAllocMiB = 256;       // the child stops there if no OOM comes
constexpr auto kOomWait = std::chrono::seconds(2);

// A "key value" line of memory.oom_control; -1 when missing.
int oomControl(const std::string& dir, const std::string& key) {
  std::istringstream in(readControlFile(dir + "/memory.oom_control"));
  std::string k;
  int64_t v;
  while (in >> k >> v)
    if (k == key) return int(v);
  return -1;
}

// The child left inside: waits for the go, then touches memory until the kernel stops it.
[[noreturn]] void allocateUntilStopped(int goFd) {
  char b;
  if (::read(goFd, &b, 1) != 1) ::_exit(0);
  for (int i = 0; i < kMaxAllocMiB; i++) {
    void* p = ::mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) break;
    std::memset(p, 1, 1 << 20);
  }
  for (;;) ::pause();
}

}  // namespace

Result<std::string> ownMemoryCgroup(const std::string& procCgroup, const std::string& memoryRoot) {
  std::istringstream in(procCgroup);
  std::string line;
  while (std::getline(in, line)) {
    // "4:memory:/docker/abc"; a v1 hierarchy may carry several controllers ("cpu,cpuacct").
    size_t a = line.find(':'), b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    std::istringstream ctls(line.substr(a + 1, b - a - 1));
    std::string ctl;
    bool memory = false;
    while (std::getline(ctls, ctl, ',')) memory = memory || ctl == "memory";
    if (!memory) continue;
    std::string path = line.substr(b + 1);
    if (path.empty() || path == "/")
      return makeError("the shim is in the root memory cgroup: no OOM relay", EINVAL);
    if (path.find("/..") != std::string::npos || path[0] != '/')
      return makeError("unexpected memory cgroup path " + path, EINVAL);
    return memoryRoot + path;
  }
  return makeError("no cgroup v1 memory hierarchy (cgroup v2: OOM relay not offered)", ENOTSUP);
}

Status relayOom() {
  KATA_ASSIGN_OR_RETURN(std::string procCgroup, readFile("/proc/self/cgroup", 1 << 16));
  KATA_ASSIGN_OR_RETURN(std::string dir, ownMemoryCgroup(procCgroup));
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return sysError("pipe");
  UniqueFd readEnd(fds[0]), writeEnd(fds[1]);
  // posix_spawn, not lib's ChildProcess: the shim is linked without libseccomp.
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, writeEnd.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, writeEnd.get(), 2);
  std::string self = "/proc/self/exe", flag = "-oom-notify-cgroup";
  char* argv[] = {self.data(), flag.data(), dir.data(), nullptr};
  pid_t pid;
  int err = ::posix_spawn(&pid, self.c_str(), &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (err != 0) return sysError("start the OOM relay helper", err);
  writeEnd.reset();
  std::string said(512, '\0');
  ssize_t n = ::read(readEnd.get(), said.data(), said.size());
  said.resize(n > 0 ? size_t(n) : 0);
  while (!said.empty() && said.back() == '\n') said.pop_back();
  // The shim ignores SIGCHLD: the kernel reaps the helper and waitpid says ECHILD once it is
  // gone. Its verdict is what it printed (nothing on success).
  int status = 0;
  bool exited = ::waitpid(pid, &status, 0) == pid;
  bool clean = !exited || (WIFEXITED(status) && WEXITSTATUS(status) == 0);
  if (said.empty() && clean) return okStatus();
  return makeError("OOM relay to " + dir + " failed: " + (said.empty() ? "no reason" : said));
}

int notifyOomHelper(const std::string& dir) {
  auto fail = [](const std::string& why) {
    std::printf("%s\n", why.c_str());
    return 1;
  };
  ::signal(SIGCHLD, SIG_DFL);  // inherited as ignored from the shim
  if (::access((dir + "/memory.oom_control").c_str(), F_OK) != 0)
    return fail(dir + " is not a cgroup v1 memory cgroup");
  const std::string parent = dir.substr(0, dir.rfind('/'));
  int go[2];
  if (::pipe2(go, O_CLOEXEC) != 0) return fail(sysError("pipe").str());
  pid_t child = ::fork();
  if (child < 0) return fail(sysError("fork").str());
  if (child == 0) {
    ::close(go[1]);
    allocateUntilStopped(go[0]);
  }
  ::close(go[0]);
  UniqueFd goWrite(go[1]);
  auto stopChild = [child] {
    ::kill(child, SIGKILL);  // also wakes it from the OOM wait
    int st;
    while (::waitpid(child, &st, 0) < 0 && errno == EINTR) {
    }
  };
  // The helper must not wait in the OOM it causes: it moves to the parent cgroup.
  if (auto st = writeControlFile(parent + "/cgroup.procs", std::to_string(getpid())); !st.ok()) {
    stopChild();
    return fail(st.error().str());
  }
  const int oldDisable = oomControl(dir, "oom_kill_disable");
  const std::string oldLimit = readControlFile(dir + "/memory.limit_in_bytes");
  const std::string oldSwappiness = readControlFile(dir + "/memory.swappiness");
  if (oldDisable < 0 || oldLimit.empty()) {
    stopChild();
    return fail("cannot read " + dir + "/memory.oom_control or memory.limit_in_bytes");
  }
  auto restore = [&] {
    (void)writeControlFile(dir + "/memory.limit_in_bytes", oldLimit);
    if (!oldSwappiness.empty()) (void)writeControlFile(dir + "/memory.swappiness", oldSwappiness);
    (void)writeControlFile(dir + "/memory.oom_control", std::to_string(oldDisable));
  };
  // Nobody is killed while the limit is low: whoever allocates waits.
  Status st = writeControlFile(dir + "/memory.oom_control", "1");
  if (st.ok() && !oldSwappiness.empty()) (void)writeControlFile(dir + "/memory.swappiness", "0");
  bool lowered = false;
  for (int tries = 0; st.ok() && tries < 5 && !lowered; tries++) {
    auto usage = parseInt<int64_t>(readControlFile(dir + "/memory.usage_in_bytes"), "usage");
    if (!usage.ok()) break;
    int64_t limit = (*usage + kHeadroom + 4095) & ~int64_t(4095);
    // EBUSY: the usage grew past it meanwhile; read it again.
    lowered = writeControlFile(dir + "/memory.limit_in_bytes", std::to_string(limit)).ok();
  }
  if (!st.ok() || !lowered) {
    stopChild();
    restore();
    return fail(st.ok() ? "cannot lower " + dir + "/memory.limit_in_bytes" : st.error().str());
  }
  ssize_t sent = ::write(goWrite.get(), "g", 1);
  (void)sent;  // a child that is gone never reaches the OOM: the wait below says so
  bool seen = false;
  const auto deadline = std::chrono::steady_clock::now() + kOomWait;
  while (!seen && std::chrono::steady_clock::now() < deadline) {
    seen = oomControl(dir, "under_oom") == 1;
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  // The child goes first, so that it does not allocate on once the limit is back.
  stopChild();
  restore();
  return seen ? 0 : fail("the cgroup did not reach its OOM within 2 s");
}

}  // namespace kata::shim
