#include "lib/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "lib/fs_util.h"
#include "lib/monotonic_clock.h"
#include "lib/seccomp_bpf.h"
#include "lib/unique_fd.h"

extern char** environ;

namespace kata {

namespace {

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

// What the child reports through the error pipe when it cannot exec.
struct ChildFailure {
  int stage;  // index into kStageNames
  int err;    // errno
};
constexpr const char* kStageNames[] = {"exec",
                                       "set up stdio",
                                       "chdir",
                                       "setsid",
                                       "open /dev/null",
                                       "drop capability",
                                       "install seccomp",
                                       "enter network namespace",
                                       "set the controlling terminal"};
enum Stage { kExec = 0, kStdio, kChdir, kSetsid, kDevNull, kCapability, kSeccomp, kNetns, kCtty };

// Everything the child needs, prepared before fork: between fork and exec a multithreaded
// parent's child may only make async-signal-safe calls, so nothing there allocates.
struct Prepared {
  std::string program;  // resolved path
  std::vector<std::string> argvStorage, envStorage;
  std::vector<char*> argv, envp;
  bool inheritEnv = true;
  std::vector<std::pair<int, int>> fdMap;  // source -> target, stdio included; source -1 = null
  std::vector<int> keep;                   // sorted target fds
  int maxTarget = 2;
  bool setsid = false;
  bool controllingTerminal = false;
  std::string cwd;
  int netnsFd = -1;
  std::vector<int> dropBoundingCaps;
  std::string seccompBpf;
};

bool isExecutableFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
}

Result<std::string> findProgram(const std::string& name,
                                const std::optional<std::vector<std::string>>& env) {
  if (name.empty()) return makeError("spawn: empty program name", EINVAL);
  if (name.find('/') != std::string::npos) return name;
  // Like execvp: the PATH of the environment the program will run in, else the caller's.
  std::string path;
  bool found = false;
  if (env) {
    for (const auto& kv : *env) {
      if (kv.rfind("PATH=", 0) == 0) {
        path = kv.substr(5);
        found = true;
      }
    }
  }
  if (!found) {
    const char* p = getenv("PATH");
    path = p ? p : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  }
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    if (isExecutableFile(candidate)) return candidate;
    start = end + 1;
  }
  return makeError("spawn " + name + ": executable file not found in $PATH", ENOENT);
}

Result<Prepared> prepare(const SpawnOptions& o) {
  if (o.argv.empty()) return makeError("spawn: empty argv", EINVAL);
  Prepared p;
  KATA_ASSIGN_OR_RETURN(p.program, findProgram(o.program.empty() ? o.argv[0] : o.program, o.env));
  p.argvStorage = o.argv;
  for (auto& a : p.argvStorage) p.argv.push_back(a.data());
  p.argv.push_back(nullptr);
  if (o.env) {
    p.inheritEnv = false;
    p.envStorage = *o.env;
    for (auto& e : p.envStorage) p.envp.push_back(e.data());
    p.envp.push_back(nullptr);
  }
  p.fdMap = {{o.stdinFd, 0}, {o.stdoutFd, 1}, {o.stderrFd, 2}};
  for (const auto& [src, dst] : o.extraFds) {
    if (src < 0 || dst < 3)
      return makeError("spawn " + o.argv[0] + ": bad extra fd mapping " + std::to_string(src) +
                           " -> " + std::to_string(dst),
                       EINVAL);
    p.fdMap.emplace_back(src, dst);
  }
  if (p.fdMap.size() > 64) return makeError("spawn " + o.argv[0] + ": too many fds", EINVAL);
  for (const auto& [src, dst] : p.fdMap) {
    if (std::find(p.keep.begin(), p.keep.end(), dst) != p.keep.end())
      return makeError("spawn " + o.argv[0] + ": child fd " + std::to_string(dst) + " mapped twice",
                       EINVAL);
    p.keep.push_back(dst);
    p.maxTarget = std::max(p.maxTarget, dst);
  }
  std::sort(p.keep.begin(), p.keep.end());
  p.setsid = o.setsid;
  p.controllingTerminal = o.setsid && o.controllingTerminal;
  p.cwd = o.cwd;
  p.netnsFd = o.netnsFd;
  p.dropBoundingCaps = o.dropBoundingCaps;
  p.seccompBpf = o.seccompBpf;
  return p;
}

[[noreturn]] void childFail(int errFd, Stage stage) {
  ChildFailure f{stage, errno};
  ssize_t ignored = write(errFd, &f, sizeof f);
  (void)ignored;
  _exit(127);
}

void markCloexecRange(unsigned first, unsigned last) {
  if (first > last) return;
  if (syscall(SYS_close_range, first, last, CLOSE_RANGE_CLOEXEC) == 0) return;
  // Pre-5.11 kernels: mark one by one, bounded.
  long max = sysconf(_SC_OPEN_MAX);
  if (max < 0 || max > 65536) max = 65536;
  for (long fd = first; fd <= static_cast<long>(last) && fd < max; fd++) {
    int fl = fcntl(static_cast<int>(fd), F_GETFD);
    if (fl >= 0) fcntl(static_cast<int>(fd), F_SETFD, fl | FD_CLOEXEC);
  }
}

// Runs in the forked child: async-signal-safe calls only. Never returns.
[[noreturn]] void execChild(const Prepared& p, int errFd) {
  // Move the error pipe above every target fd so the dup2s below cannot overwrite it.
  errFd = fcntl(errFd, F_DUPFD_CLOEXEC, p.maxTarget + 1);
  if (errFd < 0) _exit(127);

  // The parent's signal mask and ignored signals survive exec; the program must start clean.
  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, nullptr);
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
  }

  if (p.setsid && setsid() < 0) childFail(errFd, kSetsid);
  // Before the descriptors are rearranged: the namespace fd need not be handed down.
  if (p.netnsFd >= 0 && setns(p.netnsFd, CLONE_NEWNET) != 0) childFail(errFd, kNetns);

  // Two passes so that a source fd numbered like another mapping's target is not clobbered:
  // first copy every source above all targets, then dup2 each copy onto its target.
  int moved[64];
  int count = static_cast<int>(std::min<size_t>(p.fdMap.size(), 64));
  for (int i = 0; i < count; i++) {
    int src = p.fdMap[i].first;
    if (src < 0) {
      src = open("/dev/null", O_RDWR | O_CLOEXEC);
      if (src < 0) childFail(errFd, kDevNull);
    }
    moved[i] = fcntl(src, F_DUPFD_CLOEXEC, p.maxTarget + 1);
    if (moved[i] < 0) childFail(errFd, kStdio);
  }
  for (int i = 0; i < count; i++) {
    // dup2 leaves the new descriptor without FD_CLOEXEC: exactly the ones handed down.
    if (dup2(moved[i], p.fdMap[i].second) < 0) childFail(errFd, kStdio);
  }
  // Everything else closes on exec (including the error pipe, which signals success).
  unsigned prev = 3;
  for (int fd : p.keep) {
    if (fd < 3) continue;
    if (static_cast<unsigned>(fd) > prev) markCloexecRange(prev, static_cast<unsigned>(fd) - 1);
    prev = static_cast<unsigned>(fd) + 1;
  }
  markCloexecRange(prev, ~0U);
  if (p.controllingTerminal && ioctl(0, TIOCSCTTY, 0) != 0) childFail(errFd, kCtty);

  if (!p.cwd.empty() && chdir(p.cwd.c_str()) != 0) childFail(errFd, kChdir);
  for (int cap : p.dropBoundingCaps) {
    // Out of the bounding set, the capability is out of what the exec'd program can hold.
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) childFail(errFd, kCapability);
  }
  if (!p.seccompBpf.empty() && !installBpf(p.seccompBpf)) childFail(errFd, kSeccomp);
  execve(p.program.c_str(), p.argv.data(), p.inheritEnv ? environ : p.envp.data());
  childFail(errFd, kExec);
}

// Reads the child's failure report: nullopt when the pipe closed empty (exec succeeded).
std::optional<ChildFailure> readFailure(int fd) {
  ChildFailure f;
  size_t got = 0;
  while (got < sizeof f) {
    ssize_t n = read(fd, reinterpret_cast<char*>(&f) + got, sizeof f - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  if (got < sizeof f) return std::nullopt;
  return f;
}

Error failureError(const SpawnOptions& o, const ChildFailure& f) {
  constexpr int kStages = sizeof kStageNames / sizeof kStageNames[0];
  const char* stage = (f.stage >= 0 && f.stage < kStages) ? kStageNames[f.stage] : "start";
  std::string what = std::string("spawn ") + o.argv[0] + ": " + stage;
  if (f.stage == kChdir) what += " " + o.cwd;
  return sysError(what, f.err);
}

pid_t waitRetry(pid_t pid, int* status, int options) {
  for (;;) {
    pid_t r = waitpid(pid, status, options);
    if (r < 0 && errno == EINTR) continue;
    return r;
  }
}

}  // namespace

int exitCodeFromWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), reaped_(other.reaped_) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    ChildProcess old(std::move(*this));  // kills the child this object owned
    pid_ = std::exchange(other.pid_, -1);
    reaped_ = other.reaped_;
  }
  return *this;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !reaped_) {
    kill(pid_, SIGKILL);  // an owned child never outlives its owner
    int status;
    waitRetry(pid_, &status, 0);
  }
}

Result<ChildProcess> ChildProcess::spawn(const SpawnOptions& options) {
  KATA_ASSIGN_OR_RETURN(Prepared p, prepare(options));
  int pipeFds[2];
  if (pipe2(pipeFds, O_CLOEXEC) != 0) return sysError("spawn " + options.argv[0] + ": pipe");
  UniqueFd readEnd(pipeFds[0]), writeEnd(pipeFds[1]);
  pid_t pid = fork();
  if (pid < 0) return sysError("spawn " + options.argv[0] + ": fork");
  if (pid == 0) execChild(p, writeEnd.get());
  writeEnd.reset();
  ChildProcess child(pid);
  if (auto failure = readFailure(readEnd.get())) {
    int status;
    waitRetry(pid, &status, 0);
    child.reaped_ = true;
    return failureError(options, *failure);
  }
  return child;
}

Result<pid_t> ChildProcess::spawnDetached(const SpawnOptions& options) {
  KATA_ASSIGN_OR_RETURN(Prepared p, prepare(options));
  int errPipe[2], pidPipe[2];
  if (pipe2(errPipe, O_CLOEXEC) != 0) return sysError("spawn " + options.argv[0] + ": pipe");
  UniqueFd errRead(errPipe[0]), errWrite(errPipe[1]);
  if (pipe2(pidPipe, O_CLOEXEC) != 0) return sysError("spawn " + options.argv[0] + ": pipe");
  UniqueFd pidRead(pidPipe[0]), pidWrite(pidPipe[1]);

  pid_t middle = fork();
  if (middle < 0) return sysError("spawn " + options.argv[0] + ": fork");
  if (middle == 0) {
    // The intermediate child exits at once so that the grandchild is re-parented to init (or
    // the nearest subreaper) and nobody here has to reap it.
    pid_t grandchild = fork();
    if (grandchild == 0) execChild(p, errWrite.get());
    ssize_t ignored = write(pidWrite.get(), &grandchild, sizeof grandchild);
    (void)ignored;
    _exit(grandchild < 0 ? 1 : 0);
  }
  errWrite.reset();
  pidWrite.reset();
  int status;
  waitRetry(middle, &status, 0);
  pid_t grandchild = -1;
  ssize_t n;
  do {
    n = read(pidRead.get(), &grandchild, sizeof grandchild);
  } while (n < 0 && errno == EINTR);
  if (n != sizeof grandchild || grandchild < 0)
    return makeError("spawn " + options.argv[0] + ": fork", EAGAIN);
  if (auto failure = readFailure(errRead.get())) return failureError(options, *failure);
  return grandchild;
}

Result<int> ChildProcess::wait() {
  if (pid_ <= 0) return makeError("wait: no child process", ECHILD);
  if (reaped_) return makeError("wait " + std::to_string(pid_) + ": already reaped", ECHILD);
  int status;
  if (waitRetry(pid_, &status, 0) < 0) return sysError("wait " + std::to_string(pid_));
  reaped_ = true;
  return exitCodeFromWaitStatus(status);
}

Result<std::optional<int>> ChildProcess::tryWait() {
  if (pid_ <= 0) return makeError("wait: no child process", ECHILD);
  if (reaped_) return makeError("wait " + std::to_string(pid_) + ": already reaped", ECHILD);
  int status;
  pid_t r = waitRetry(pid_, &status, WNOHANG);
  if (r < 0) return sysError("wait " + std::to_string(pid_));
  if (r == 0) return std::optional<int>();
  reaped_ = true;
  return std::optional<int>(exitCodeFromWaitStatus(status));
}

Status ChildProcess::signal(int sig) {
  if (pid_ <= 0 || reaped_)
    return makeError("signal " + std::to_string(pid_) + ": process already reaped", ESRCH);
  if (kill(pid_, sig) != 0)
    return sysError("signal " + std::to_string(sig) + " to pid " + std::to_string(pid_));
  return okStatus();
}

pid_t ChildProcess::release() {
  reaped_ = false;
  return std::exchange(pid_, -1);
}

Result<std::string> runCommand(const std::vector<std::string>& argv, int timeoutSec) {
  if (argv.empty()) return makeError("run: empty argv", EINVAL);
  constexpr size_t kMaxOutput = 1 << 20;
  int outPipe[2], errPipe[2];
  if (pipe2(outPipe, O_CLOEXEC) != 0) return sysError("run " + argv[0] + ": pipe");
  UniqueFd outRead(outPipe[0]), outWrite(outPipe[1]);
  if (pipe2(errPipe, O_CLOEXEC) != 0) return sysError("run " + argv[0] + ": pipe");
  UniqueFd errRead(errPipe[0]), errWrite(errPipe[1]);

  SpawnOptions options;
  options.argv = argv;
  options.stdoutFd = outWrite.get();
  options.stderrFd = errWrite.get();
  KATA_ASSIGN_OR_RETURN(ChildProcess child, ChildProcess::spawn(options));
  outWrite.reset();
  errWrite.reset();

  std::string out, err;
  const timespec start = monotonicNow();
  bool outOpen = true, errOpen = true;
  while (outOpen || errOpen) {
    long leftMs = static_cast<long>(timeoutSec) * 1000 - msSince(start);
    if (leftMs <= 0) {
      return makeError(
          "run " + argv[0] + ": no exit after " + std::to_string(timeoutSec) + " s, killed",
          ETIMEDOUT);  // ~ChildProcess kills and reaps
    }
    struct pollfd fds[2] = {{outOpen ? outRead.get() : -1, POLLIN, 0},
                            {errOpen ? errRead.get() : -1, POLLIN, 0}};
    int r = poll(fds, 2, static_cast<int>(std::min<long>(leftMs, 1000)));
    if (r < 0) {
      if (errno == EINTR) continue;
      return sysError("run " + argv[0] + ": poll");
    }
    char buf[8192];
    for (int i = 0; i < 2; i++) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        (i == 0 ? outOpen : errOpen) = false;
        continue;
      }
      std::string& dst = i == 0 ? out : err;
      if (dst.size() + static_cast<size_t>(n) > kMaxOutput)
        return makeError("run " + argv[0] + ": more than 1 MiB of output", EFBIG);
      dst.append(buf, static_cast<size_t>(n));
    }
  }
  // Both pipes are closed; the program may still linger (or have left a child holding them).
  std::optional<int> exited;
  for (;;) {
    KATA_ASSIGN_OR_RETURN(exited, child.tryWait());
    if (exited) break;
    if (msSince(start) >= static_cast<long>(timeoutSec) * 1000) {
      return makeError(
          "run " + argv[0] + ": no exit after " + std::to_string(timeoutSec) + " s, killed",
          ETIMEDOUT);
    }
    struct timespec pause = {0, 5 * 1000 * 1000};
    nanosleep(&pause, nullptr);
  }
  int code = *exited;
  if (code != 0) {
    // The last line of stderr usually says why.
    while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
    size_t nl = err.rfind('\n');
    std::string why = nl == std::string::npos ? err : err.substr(nl + 1);
    return makeError("run " + argv[0] + ": exit status " + std::to_string(code) +
                     (why.empty() ? "" : ": " + why));
  }
  return out;
}

std::vector<std::string> environWith(const std::vector<std::string>& entries) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; e++) env.emplace_back(*e);
  env.insert(env.end(), entries.begin(), entries.end());
  return env;
}

bool processAlive(pid_t pid) {
  if (pid <= 0) return false;
  if (kill(pid, 0) != 0 && errno != EPERM) return false;
  // A zombie still answers kill(0) but is no longer running.
  auto stat = readFile("/proc/" + std::to_string(pid) + "/stat", 4096);
  if (!stat.ok()) return true;  // no procfs: trust kill()
  size_t paren = stat->rfind(')');
  if (paren != std::string::npos && paren + 2 < stat->size()) {
    char state = (*stat)[paren + 2];
    if (state == 'Z' || state == 'X') return false;
  }
  return true;
}

}  // namespace kata
