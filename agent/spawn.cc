#include "agent/spawn.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstring>

#include "agent/capabilities.h"
#include "agent/namespaces.h"
#include "agent/rootfs.h"
#include "agent/seccomp.h"

namespace kata::agent {

namespace {

enum MsgType : int32_t { kEof = 0, kPid = 1, kContinue, kReady, kStart, kError, kPty };

struct SyncMsg {
  int32_t type = 0;
  int32_t code = 0;
  int64_t value = 0;
  char text[496] = {};
};

// Fixed fd numbers in the intermediate and container process.
constexpr int kSyncFd = 3;
constexpr int kFirstNsFd = 4;

constexpr int kSetupTimeoutMs = 120 * 1000;

void sendMsg(int fd, int32_t type, int64_t value = 0, int code = 0, const std::string& text = "") {
  SyncMsg m;
  m.type = type;
  m.value = value;
  m.code = code;
  std::strncpy(m.text, text.c_str(), sizeof m.text - 1);
  while (::send(fd, &m, sizeof m, MSG_NOSIGNAL) < 0 && errno == EINTR) {
  }
}

/// In the container process: sends `type` with `passFd` attached (SCM_RIGHTS).
bool sendMsgWithFd(int fd, int32_t type, int passFd) {
  SyncMsg m;
  m.type = type;
  iovec iov{&m, sizeof m};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control;
  mh.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &passFd, sizeof(int));
  ssize_t n;
  do {
    n = ::sendmsg(fd, &mh, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(sizeof m);
}

/// Receives one message; a descriptor passed with it goes to `*passed` (closed when null).
Result<SyncMsg> recvMsg(int fd, int timeoutMs, UniqueFd* passed = nullptr) {
  pollfd p{fd, POLLIN, 0};
  for (;;) {
    int rc = ::poll(&p, 1, timeoutMs);
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) return sysError("poll sync socket");
    if (rc == 0) return makeError("container process did not answer in time", ETIMEDOUT);
    break;
  }
  SyncMsg m;
  iovec iov{&m, sizeof m};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)] = {};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control;
  mh.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  for (cmsghdr* c = CMSG_FIRSTHDR(&mh); n > 0 && c; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int got;
      std::memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
      UniqueFd owned(got);
      if (passed && i == 0) *passed = std::move(owned);
    }
  }
  if (n < 0) {
    if (errno == ECONNRESET) return SyncMsg{};
    return sysError("read sync socket");
  }
  if (n == 0) return SyncMsg{};
  if (n != sizeof m) return makeError("short message on the sync socket", EPROTO);
  m.text[sizeof m.text - 1] = '\0';
  return m;
}

// The child sends its error's whole line (strerror included), so that it chooses the words.
Error errorFrom(const SyncMsg& m) { return makeError(m.text, m.code); }

[[noreturn]] void childFail(const Error& e) {
  sendMsg(kSyncFd, kError, 0, e.code, e.str());
  ::_exit(127);
}

// A failed exec in Go's (runc's) words: Docker and its client read the reason from the text
// ("no such file or directory" -> exit 127, "permission denied" -> 126) and match it
// case-sensitively, so it is strerror with a lower-case first letter.
Error execError(const std::string& prog, int err) {
  std::string reason = std::strerror(err);
  if (!reason.empty())
    reason[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(reason[0])));
  return makeError("exec \"" + prog + "\": " + reason, err);
}

/// In the child: puts fds[i] at number i and closes every other descriptor.
bool arrangeFds(const std::vector<int>& fds) {
  std::vector<int> tmp;
  for (int fd : fds) {
    int t = ::fcntl(fd, F_DUPFD, 256);
    if (t < 0) return false;
    tmp.push_back(t);
  }
  for (size_t i = 0; i < tmp.size(); ++i) {
    if (::dup2(tmp[i], static_cast<int>(i)) < 0) return false;
  }
  ::close_range(static_cast<unsigned>(fds.size()), ~0U, 0);
  return true;
}

struct ChildPlan {
  std::vector<std::pair<int, std::string>> joins;  // (CLONE_NEW*, ns path)
  int unshareFlags = 0;
  int in = -1, out = -1, err = -1;
  std::function<void()> body;  // runs in the container process; must not return on success
};

/// The fork / setns / unshare / fork dance. Returns the container process's pid, registered
/// with the reaper, and the agent's end of the sync socket.
Result<SpawnedProcess> forkTwice(const ChildPlan& plan, Reaper& reaper,
                                 Reaper::ExitCallback onExit) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    return sysError("socketpair");
  }
  UniqueFd parentEnd(sv[0]), childEnd(sv[1]);
  std::vector<UniqueFd> nsFds;
  for (const auto& [flag, path] : plan.joins) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return sysError("open namespace " + path);
    nsFds.push_back(std::move(fd));
  }
  UniqueFd devNull(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!devNull) return sysError("open /dev/null");
  std::vector<int> fds = {plan.in >= 0 ? plan.in : devNull.get(),
                          plan.out >= 0 ? plan.out : devNull.get(),
                          plan.err >= 0 ? plan.err : devNull.get(), childEnd.get()};
  for (const auto& fd : nsFds) fds.push_back(fd.get());

  auto lock = reaper.spawnLock();
  pid_t middle = ::fork();
  if (middle < 0) return sysError("fork");
  if (middle == 0) {
    // Intermediate process (single-threaded copy of the agent).
    if (!arrangeFds(fds)) ::_exit(126);
    ::fcntl(kSyncFd, F_SETFD, FD_CLOEXEC);
    resetSignalsInChild();
    for (size_t i = 0; i < plan.joins.size(); ++i) {
      // Enters a namespace the container shares (sandbox pid namespace, or the container's own
      // namespaces for an exec'd process).
      if (::setns(kFirstNsFd + static_cast<int>(i), plan.joins[i].first) != 0) {
        childFail(sysError(std::string("join ") + namespaceProcName(plan.joins[i].first) +
                           " namespace " + plan.joins[i].second));
      }
    }
    ::close_range(kFirstNsFd, ~0U, 0);
    // New namespaces for the container; a new pid namespace applies to our next child.
    if (plan.unshareFlags && ::unshare(plan.unshareFlags) != 0) {
      childFail(sysError("unshare namespaces"));
    }
    pid_t child = ::fork();
    if (child < 0) childFail(sysError("fork container process"));
    if (child == 0) {
      plan.body();
      ::_exit(127);
    }
    sendMsg(kSyncFd, kPid, child);
    ::_exit(0);
  }
  childEnd.reset();
  auto msg = recvMsg(parentEnd.get(), kSetupTimeoutMs);
  int status = 0;
  // Safe while we hold the spawn lock: the reaper cannot take the intermediate's status.
  while (::waitpid(middle, &status, __WALL) < 0 && errno == EINTR) {
  }
  if (!msg.ok()) return std::move(msg).error();
  if (msg->type == kError) return errorFrom(*msg);
  if (msg->type != kPid) {
    return makeError("intermediate process exited with status " + std::to_string(status), ECHILD);
  }
  pid_t pid = static_cast<pid_t>(msg->value);
  reaper.watch(lock, pid, std::move(onExit));
  return SpawnedProcess{pid, std::move(parentEnd)};
}

/// In the container process: blocks until the agent sends `type`; exits when the agent is gone.
void awaitMsg(int32_t type) {
  auto msg = recvMsg(kSyncFd, -1);
  if (!msg.ok() || msg->type != type) ::_exit(1);
}

/// In the container process, once its mount namespace is final: opens a pty from the
/// container's own devpts (so `tty` and `ps` inside name it /dev/pts/N), makes the slave our
/// stdio and controlling terminal and hands the master to the agent, as runc's console socket.
/// The init's terminal is also the container's /dev/console, as with runc.
void setupTerminal(const ProcessSpec& p, bool console) {
  ::setsid();
  auto pty = openPty("/dev/ptmx", p.rows, p.cols);
  if (!pty.ok()) {
    childFail(
        std::move(pty).error().wrap("terminal from the container's /dev/pts (is devpts mounted?)"));
  }
  // The process's user must be able to open its own terminal (the tty group keeps the rest).
  if (::fchown(pty->slave.get(), p.user.uid, static_cast<gid_t>(-1)) != 0) {
    childFail(sysError("chown terminal"));
  }
  if (console) {
    if (auto s = mountConsole(pty->slave.get()); !s.ok()) childFail(s.error());
  }
  // Passes the master to the agent, which pumps it into ReadStdout/WriteStdin.
  if (!sendMsgWithFd(kSyncFd, kPty, pty->master.get())) childFail(sysError("send terminal"));
  for (int fd = 0; fd < 3; ++fd) {
    if (::dup2(pty->slave.get(), fd) < 0) childFail(sysError("dup terminal"));
  }
  // The slave becomes the controlling terminal (job control, ^C).
  if (::ioctl(0, TIOCSCTTY, 0) != 0) childFail(sysError("set controlling terminal"));
}

/// Session and terminal of a container process, once it sees its final mount namespace.
void becomeSessionLeader(const ProcessSpec& p, bool console) {
  if (p.terminal) {
    setupTerminal(p, console);
  } else {
    ::setsid();
  }
}

[[noreturn]] void execProcess(const ProcessSpec& p) {
  for (const auto& r : p.rlimits) {
    rlimit lim{r.soft, r.hard};
    if (::setrlimit(r.resource, &lim) != 0) childFail(sysError("setrlimit"));
  }
  if (p.personality && ::personality(*p.personality) < 0) childFail(sysError("set personality"));
  // As runc: the cwd is entered as root when root may, else (a directory only the container's
  // user can enter) once the process has its user.
  bool chdirAsUser = false;
  if (::chdir(p.cwd.c_str()) != 0) {
    if (errno != EACCES && errno != EPERM) childFail(sysError("chdir to cwd " + p.cwd));
    chdirAsUser = true;
  }
  if (auto s = dropBoundingSet(p.caps); !s.ok()) childFail(s.error());
  // Without no_new_privileges, loading a filter needs CAP_SYS_ADMIN: do it while we have it.
  if (!p.seccomp.empty() && !p.noNewPrivileges) {
    if (auto s = installSeccomp(p.seccomp); !s.ok()) childFail(s.error());
  }
  ::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0);
  if (::setgroups(p.user.additionalGids.size(), p.user.additionalGids.data()) != 0) {
    childFail(sysError("setgroups"));
  }
  if (::setresgid(p.user.gid, p.user.gid, p.user.gid) != 0) childFail(sysError("setgid"));
  if (::setresuid(p.user.uid, p.user.uid, p.user.uid) != 0) childFail(sysError("setuid"));
  if (auto s = applyCapabilities(p.caps); !s.ok()) childFail(s.error());
  if (chdirAsUser && ::chdir(p.cwd.c_str()) != 0) childFail(sysError("chdir to cwd " + p.cwd));
  if (p.noNewPrivileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    childFail(sysError("set no_new_privs"));
  }
  if (!p.seccomp.empty() && p.noNewPrivileges) {
    if (auto s = installSeccomp(p.seccomp); !s.ok()) childFail(s.error());
  }
  ::umask(p.umask);

  std::vector<char*> argv, envp;
  for (const auto& a : p.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const auto& e : p.env) {
    envp.push_back(const_cast<char*>(e.c_str()));
    if (e.rfind("PATH=", 0) == 0) path = e.substr(5);
  }
  envp.push_back(nullptr);
  const std::string& prog = p.args[0];
  if (prog.find('/') != std::string::npos) {
    ::execve(prog.c_str(), argv.data(), envp.data());
    childFail(execError(prog, errno));
  }
  int lastErr = ENOENT;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + prog;
    ::execve(candidate.c_str(), argv.data(), envp.data());
    if (errno == EACCES) {
      lastErr = EACCES;
    } else if (errno != ENOENT && errno != ENOTDIR) {
      lastErr = errno;
      break;
    }
    start = end + 1;
  }
  if (lastErr != ENOENT) childFail(execError(prog, lastErr));
  childFail(makeError("exec \"" + prog + "\": executable file not found in $PATH", lastErr));
}

/// A program that is not there fails the container's create, as runc's does, not its start:
/// Docker then removes the container as after any failed create. Only existence is checked
/// (the user, the capabilities and the working directory are not the process's yet); a
/// relative path with a slash is left to exec.
void checkProgramExists(const ProcessSpec& p) {
  const std::string& prog = p.args[0];
  struct stat st;
  if (prog[0] == '/') {
    if (::stat(prog.c_str(), &st) != 0 && (errno == ENOENT || errno == ENOTDIR))
      childFail(execError(prog, errno));
    return;
  }
  if (prog.find('/') != std::string::npos) return;
  std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const auto& e : p.env) {
    if (e.rfind("PATH=", 0) == 0) path = e.substr(5);
  }
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    // A relative PATH entry resolves against the working directory exec will have.
    if (!dir.empty() && dir[0] == '/' && ::stat((dir + "/" + prog).c_str(), &st) == 0) return;
    if (dir.empty() || dir[0] != '/') return;
    start = end + 1;
  }
  childFail(makeError("exec \"" + prog + "\": executable file not found in $PATH", ENOENT));
}

/// Splits the namespaces into (join, unshare) for the intermediate process.
void planNamespaces(const std::vector<NamespaceSpec>& ns, ChildPlan& plan) {
  // The user namespace first (it owns the others, and gives the capabilities to join them),
  // the mount namespace last (after it, paths resolve in the container's view).
  auto rank = [](int flag) { return flag == CLONE_NEWUSER ? 0 : flag == CLONE_NEWNS ? 2 : 1; };
  for (int r = 0; r < 3; ++r) {
    for (const auto& n : ns) {
      if (rank(n.flag) != r) continue;
      if (n.path.empty()) {
        plan.unshareFlags |= n.flag;
      } else {
        plan.joins.emplace_back(n.flag, n.path);
      }
    }
  }
}

/// Writes /proc/<pid>/{uid,gid}_map of a process that created a user namespace.
Status writeIdMap(pid_t pid, const char* file, const std::vector<IdMapping>& map) {
  std::string text;
  for (const auto& m : map) {
    text += std::to_string(m.containerId) + " " + std::to_string(m.hostId) + " " +
            std::to_string(m.size) + "\n";
  }
  std::string path = "/proc/" + std::to_string(pid) + "/" + file;
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return sysError("open " + path);
  // The map must arrive in one write (the kernel accepts a map once).
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    return sysError(std::string("write the user namespace's ") + file);
  }
  return okStatus();
}

void killQuietly(pid_t pid) {
  if (pid > 0) ::kill(pid, SIGKILL);
}

/// Runs the placement hook for a new container process, lets it continue and returns its next
/// message (the caller kills the process on any error).
/// A terminal process first sends its pty master, which goes to `stdio.ptyMaster`.
Result<SyncMsg> placeAndContinue(SpawnedProcess& proc, const PlacementHook& placement,
                                 StdioPair& stdio) {
  KATA_TRY(placement(proc.pid));
  sendMsg(proc.sync.get(), kContinue);
  UniqueFd master;
  KATA_ASSIGN_OR_RETURN(auto msg, recvMsg(proc.sync.get(), kSetupTimeoutMs, &master));
  if (msg.type == kPty) {
    if (!stdio.terminal || !master) {
      return makeError("container process sent an unexpected terminal", EPROTO);
    }
    stdio.ptyMaster = std::move(master);
    KATA_ASSIGN_OR_RETURN(msg, recvMsg(proc.sync.get(), kSetupTimeoutMs));
  }
  if (stdio.terminal && !stdio.ptyMaster && msg.type != kError) {
    return makeError("container process did not send its terminal", EPROTO);
  }
  return msg;
}

}  // namespace

Result<SpawnedProcess> spawnContainerInit(const ContainerConfig& config, StdioPair& stdio,
                                          Reaper& reaper, Reaper::ExitCallback onExit,
                                          const PlacementHook& placement) {
  ChildPlan plan;
  planNamespaces(config.namespaces, plan);
  plan.in = stdio.childIn.get();
  plan.out = stdio.childOut.get();
  plan.err = stdio.childErr.get();
  plan.body = [&config]() {
    awaitMsg(kContinue);
    if (config.newCgroupNamespace && ::unshare(CLONE_NEWCGROUP) != 0) {
      childFail(sysError("unshare cgroup namespace"));
    }
    ::umask(0);  // device nodes and mount points get exactly the modes asked for
    if (auto s = prepareRootfs(config.rootfs); !s.ok()) childFail(s.error());
    becomeSessionLeader(config.process, true);
    if (auto s = finalizeRootfs(config.rootfs); !s.ok()) childFail(s.error());
    checkProgramExists(config.process);
    sendMsg(kSyncFd, kReady);
    awaitMsg(kStart);
    execProcess(config.process);
  };
  KATA_ASSIGN_OR_RETURN(auto proc, forkTwice(plan, reaper, std::move(onExit)));
  if (plan.unshareFlags & CLONE_NEWUSER) {
    // The container process waits for Continue in its new user namespace: map its ids first.
    Status mapped = writeIdMap(proc.pid, "uid_map", config.uidMappings);
    if (mapped.ok()) mapped = writeIdMap(proc.pid, "gid_map", config.gidMappings);
    if (!mapped.ok()) {
      killQuietly(proc.pid);
      return std::move(mapped).error();
    }
  }
  auto msg = placeAndContinue(proc, placement, stdio);
  if (!msg.ok() || msg->type != kReady) {
    killQuietly(proc.pid);
    if (!msg.ok()) return std::move(msg).error();
    if (msg->type == kError) return errorFrom(*msg);
    return makeError("container process exited during setup", ECHILD);
  }
  return proc;
}

Status startContainerInit(SpawnedProcess& init) {
  if (!init.sync) return makeError("container was already started", EALREADY);
  sendMsg(init.sync.get(), kStart);
  auto msg = recvMsg(init.sync.get(), kSetupTimeoutMs);
  init.sync.reset();
  if (!msg.ok()) return std::move(msg).error();
  if (msg->type == kError) return errorFrom(*msg);
  return okStatus();  // EOF: the exec closed the socket
}

Result<pid_t> spawnInContainer(const ProcessSpec& process, pid_t nsPid,
                               const std::vector<int>& nsFlags, StdioPair& stdio, Reaper& reaper,
                               Reaper::ExitCallback onExit, const PlacementHook& placement) {
  std::vector<NamespaceSpec> ns;
  for (int flag : nsFlags) {
    ns.push_back({flag, "/proc/" + std::to_string(nsPid) + "/ns/" + namespaceProcName(flag)});
  }
  ChildPlan plan;
  planNamespaces(ns, plan);
  plan.in = stdio.childIn.get();
  plan.out = stdio.childOut.get();
  plan.err = stdio.childErr.get();
  plan.body = [&process]() {
    awaitMsg(kContinue);
    becomeSessionLeader(process, false);
    execProcess(process);
  };
  KATA_ASSIGN_OR_RETURN(auto proc, forkTwice(plan, reaper, std::move(onExit)));
  auto msg = placeAndContinue(proc, placement, stdio);
  if (!msg.ok()) {
    killQuietly(proc.pid);
    return std::move(msg).error();
  }
  if (msg->type == kError) return errorFrom(*msg);
  return proc.pid;
}

Result<pid_t> spawnPidNamespaceHolder(Reaper& reaper, Reaper::ExitCallback onExit) {
  ChildPlan plan;
  plan.unshareFlags = CLONE_NEWPID;
  plan.body = []() {
    ::close_range(3, ~0U, 0);
    for (;;) ::pause();
  };
  KATA_ASSIGN_OR_RETURN(auto proc, forkTwice(plan, reaper, std::move(onExit)));
  return proc.pid;
}

}  // namespace kata::agent
