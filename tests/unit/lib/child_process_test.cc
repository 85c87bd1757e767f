#include "lib/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "lib/fs_util.h"
#include "lib/temp_dir.h"
#include "lib/unique_fd.h"

// CppUTest comes last: its leak-detection macros break standard headers.
#include <CppUTest/TestHarness.h>

using namespace kata;

namespace {

std::string readAll(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

struct Pipe {
  UniqueFd r, w;
  Pipe() {
    int fds[2];
    CHECK(pipe2(fds, O_CLOEXEC) == 0);
    r.reset(fds[0]);
    w.reset(fds[1]);
  }
};

// GCC 12 warns about designated initializers that skip members, so options are built here.
SpawnOptions opts(std::vector<std::string> argv) {
  SpawnOptions o;
  o.argv = std::move(argv);
  return o;
}

}  // namespace

TEST_GROUP(ChildProcess){};

TEST(ChildProcess, ExitCodeIsReported) {
  auto c = ChildProcess::spawn(opts({"sh", "-c", "exit 7"}));
  CHECK(c.ok());
  CHECK(c->pid() > 0);
  LONGS_EQUAL(7, c->wait().value());
}

TEST(ChildProcess, MissingProgramIsAnErrorNotADeadChild) {
  auto c = ChildProcess::spawn(opts({"/nonexistent/program"}));
  CHECK_FALSE(c.ok());
  LONGS_EQUAL(ENOENT, c.error().code);
  CHECK(c.error().message.find("/nonexistent/program") != std::string::npos);
  auto inPath = ChildProcess::spawn(opts({"no-such-program-kata-test"}));
  CHECK_FALSE(inPath.ok());
  LONGS_EQUAL(ENOENT, inPath.error().code);
}

TEST(ChildProcess, NonExecutableAndBadCwdAreErrors) {
  auto c = ChildProcess::spawn(opts({"/etc/passwd"}));
  CHECK_FALSE(c.ok());
  LONGS_EQUAL(EACCES, c.error().code);
  SpawnOptions o = opts({"true"});
  o.cwd = "/nonexistent-cwd";
  auto d = ChildProcess::spawn(o);
  CHECK_FALSE(d.ok());
  LONGS_EQUAL(ENOENT, d.error().code);
  CHECK(d.error().message.find("chdir /nonexistent-cwd") != std::string::npos);
}

TEST(ChildProcess, SignalledChildIs128PlusSignal) {
  auto c = ChildProcess::spawn(opts({"sleep", "100"}));
  CHECK(c.ok());
  CHECK(c->tryWait().value() == std::nullopt);
  CHECK(c->signal(SIGTERM).ok());
  LONGS_EQUAL(128 + SIGTERM, c->wait().value());
  CHECK_FALSE(c->signal(SIGTERM).ok());  // reaped: no stray kill of a recycled pid
}

TEST(ChildProcess, StdioEnvAndCwd) {
  Pipe out;
  SpawnOptions o = opts({"sh", "-c", "echo \"$FOO $(pwd)\"; echo err >&2"});
  o.env = std::vector<std::string>{"FOO=bar", "PATH=/usr/bin:/bin"};
  o.stdoutFd = out.w.get();
  o.cwd = "/tmp";
  auto c = ChildProcess::spawn(o);
  CHECK(c.ok());
  out.w.reset();
  STRCMP_EQUAL("bar /tmp\n", readAll(out.r.get()).c_str());
  LONGS_EQUAL(0, c->wait().value());
}

TEST(ChildProcess, StdinDefaultsToDevNull) {
  Pipe out;
  SpawnOptions o = opts({"sh", "-c", "cat; echo done"});
  o.stdoutFd = out.w.get();
  auto c = ChildProcess::spawn(o);
  CHECK(c.ok());
  out.w.reset();
  STRCMP_EQUAL("done\n", readAll(out.r.get()).c_str());
  LONGS_EQUAL(0, c->wait().value());
}

TEST(ChildProcess, OnlyRequestedFdsAreInherited) {
  Pipe out, extra;
  // A descriptor without FD_CLOEXEC (as a careless library might leave) must still not leak.
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  CHECK(dup2(devnull, 40) == 40);
  close(devnull);
  SpawnOptions o = opts({"sh", "-c", "ls /proc/$$/fd; echo hi >&5"});
  o.stdoutFd = out.w.get();
  o.extraFds = {{extra.w.get(), 5}};
  auto c = ChildProcess::spawn(o);
  close(40);
  CHECK(c.ok());
  out.w.reset();
  extra.w.reset();
  std::string fds = readAll(out.r.get());
  LONGS_EQUAL(0, c->wait().value());
  // The shell's own fds: exactly 0, 1, 2 and 5 (ls lists the shell's, not its own).
  STRCMP_EQUAL("0\n1\n2\n5\n", fds.c_str());
  STRCMP_EQUAL("hi\n", readAll(extra.r.get()).c_str());
}

TEST(ChildProcess, ExtraFdMayReuseAStdioNumber) {
  Pipe a, b;
  // Source fds colliding with targets must not clobber each other: map a.w -> 1, b.w -> a.w's
  // number would be odd, so map a.w to 7 and b.w to stdout.
  SpawnOptions o = opts({"sh", "-c", "echo one >&7; echo two"});
  o.stdoutFd = b.w.get();
  o.extraFds = {{a.w.get(), 7}};
  auto c = ChildProcess::spawn(o);
  CHECK(c.ok());
  a.w.reset();
  b.w.reset();
  STRCMP_EQUAL("one\n", readAll(a.r.get()).c_str());
  STRCMP_EQUAL("two\n", readAll(b.r.get()).c_str());
  LONGS_EQUAL(0, c->wait().value());
}

TEST(ChildProcess, DestructorKillsAndReaps) {
  pid_t pid;
  {
    auto c = ChildProcess::spawn(opts({"sleep", "100"}));
    CHECK(c.ok());
    pid = c->pid();
    CHECK(processAlive(pid));
  }
  CHECK_FALSE(processAlive(pid));
  CHECK(kill(pid, 0) != 0);  // reaped, not a zombie
}

TEST(ChildProcess, ReleaseKeepsTheChild) {
  auto c = ChildProcess::spawn(opts({"sleep", "100"}));
  CHECK(c.ok());
  pid_t pid = c->release();
  { ChildProcess moved = std::move(*c); }
  CHECK(processAlive(pid));
  kill(pid, SIGKILL);
  int status;
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK_FALSE(processAlive(pid));
}

TEST(ChildProcess, SpawnDetachedOutlivesAndIsNotOurChild) {
  auto dir = TempDir::create("child-test-").value();
  std::string marker = dir.path() + "/ppid";
  SpawnOptions o = opts(
      {"sh", "-c",
       "echo $PPID > " + marker + ".tmp; mv " + marker + ".tmp " + marker + "; exec sleep 100"});
  o.setsid = true;
  auto pid = ChildProcess::spawnDetached(o);
  CHECK(pid.ok());
  CHECK(processAlive(*pid));
  // Not our child: waitpid refuses it.
  int status;
  CHECK(waitpid(*pid, &status, WNOHANG) < 0);
  LONGS_EQUAL(ECHILD, errno);
  for (int i = 0; i < 500 && !readFile(marker, 100).ok(); i++) usleep(10000);
  auto ppid = readFile(marker, 100);
  CHECK(ppid.ok());
  CHECK(std::stoi(*ppid) != getpid());
  CHECK(getsid(*pid) == *pid);
  kill(*pid, SIGKILL);
  for (int i = 0; i < 500 && processAlive(*pid); i++) usleep(10000);
}

TEST(ChildProcess, SpawnDetachedReportsExecFailure) {
  auto pid = ChildProcess::spawnDetached(opts({"/nonexistent/daemon"}));
  CHECK_FALSE(pid.ok());
  LONGS_EQUAL(ENOENT, pid.error().code);
}

TEST(ChildProcess, RunCommandCapturesStdout) {
  auto out = runCommand({"sh", "-c", "echo version 1.2"}, 10);
  CHECK(out.ok());
  STRCMP_EQUAL("version 1.2\n", out->c_str());
}

TEST(ChildProcess, RunCommandFailureCarriesStderr) {
  auto out = runCommand({"sh", "-c", "echo boom >&2; exit 3"}, 10);
  CHECK_FALSE(out.ok());
  CHECK(out.error().message.find("exit status 3") != std::string::npos);
  CHECK(out.error().message.find("boom") != std::string::npos);
}

TEST(ChildProcess, RunCommandTimesOut) {
  auto out = runCommand({"sleep", "30"}, 1);
  CHECK_FALSE(out.ok());
  LONGS_EQUAL(ETIMEDOUT, out.error().code);
}

TEST(ChildProcess, RunCommandTimesOutAfterClosingItsOutput) {
  auto out = runCommand({"sh", "-c", "exec >&- 2>&-; exec sleep 30"}, 1);
  CHECK_FALSE(out.ok());
  LONGS_EQUAL(ETIMEDOUT, out.error().code);
}

TEST(ChildProcess, ProcessAlive) {
  CHECK(processAlive(getpid()));
  CHECK_FALSE(processAlive(0));
  CHECK_FALSE(processAlive(-1));
  // A zombie is not alive.
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  for (int i = 0; i < 500; i++) {
    if (!processAlive(pid)) break;
    usleep(10000);
  }
  CHECK_FALSE(processAlive(pid));
  int status;
  waitpid(pid, &status, 0);
}
