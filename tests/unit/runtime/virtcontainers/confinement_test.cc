#include "runtime/virtcontainers/confinement.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "lib/child_process.h"
#include "lib/seccomp_bpf.h"
#include "lib/temp_dir.h"

// CppUTest comes last: its leak-detection macros break standard headers.
#include <CppUTest/TestHarness.h>

namespace {

// Runs `probe` in a forked child under the guest file server filter; returns its exit code.
int underFilter(int (*probe)(const std::string& dir), const std::string& dir) {
  auto bpf = kata::vc::guestFileServerSeccomp();
  if (!bpf.ok()) return 200;
  pid_t pid = fork();
  if (pid == 0) {
    if (!kata::installBpf(*bpf)) _exit(201);
    _exit(probe(dir));
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 202;
}

// Each failed expectation exits with its own code.
int probeModes(const std::string& dir) {
  const std::string f = dir + "/f";
  int fd = open(f.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0755);
  if (fd < 0) return 1;
  if (chmod(f.c_str(), 0700) != 0) return 2;                     // plain modes work
  if (chmod(f.c_str(), 04755) == 0 || errno != EPERM) return 3;  // setuid refused
  if (fchmod(fd, 02755) == 0 || errno != EPERM) return 4;        // setgid refused
  if (fchmodat(AT_FDCWD, f.c_str(), 06755, 0) == 0 || errno != EPERM) return 5;
  close(fd);
  const std::string g = dir + "/g";
  if (open(g.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 04755) >= 0 || errno != EPERM) return 6;
  if (mknod((dir + "/n").c_str(), S_IFCHR | 0600, makedev(1, 3)) == 0 || errno != EPERM) return 7;
  if (mknod((dir + "/s").c_str(), S_IFREG | 04755, 0) == 0 || errno != EPERM) return 8;
  if (mknod((dir + "/r").c_str(), S_IFREG | 0644, 0) != 0) return 9;  // plain files still
  if (syscall(__NR_io_uring_setup, 1, nullptr) != -1 || errno != ENOSYS) return 10;
  if (syscall(__NR_openat2, AT_FDCWD, "/", nullptr, 0) != -1 || errno != ENOSYS) return 11;
  return 0;
}

}  // namespace

TEST_GROUP(Confinement){};

TEST(Confinement, FilterRefusesSetidModesDevicesOpenat2AndIoUring) {
  auto dir = kata::TempDir::create("confine");
  CHECK_TRUE(dir.ok());
  LONGS_EQUAL(0, underFilter(probeModes, dir->path()));
}

TEST(Confinement, ChildLosesTheDroppedCapabilitiesAndRunsUnderTheFilter) {
  if (geteuid() != 0) return;  // the bounding set can only be seen shrinking from root's
  kata::SpawnOptions o;
  o.argv = {"/bin/sh", "-c", "grep -E '^(CapBnd|Seccomp):' /proc/self/status"};
  o.dropBoundingCaps = kata::vc::guestFileServerDroppedCaps();
  o.seccompBpf = kata::vc::guestFileServerSeccomp().value();
  auto dir = kata::TempDir::create("confine");
  const std::string out = dir->path() + "/out";
  int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  o.stdoutFd = fd;
  auto child = kata::ChildProcess::spawn(o);
  close(fd);
  CHECK_TRUE(child.ok());
  LONGS_EQUAL(0, child->wait().value());
  char buf[256] = {};
  int in = open(out.c_str(), O_RDONLY | O_CLOEXEC);
  CHECK_TRUE(read(in, buf, sizeof buf - 1) > 0);
  close(in);
  std::string text(buf);
  unsigned long long bnd = std::stoull(text.substr(text.find("CapBnd:") + 7), nullptr, 16);
  for (int cap : {CAP_MKNOD, CAP_FSETID, CAP_SETFCAP}) CHECK_EQUAL(0ULL, (bnd >> cap) & 1);
  CHECK_EQUAL(1ULL, (bnd >> CAP_CHOWN) & 1);  // only those
  CHECK_TRUE(text.find("Seccomp:\t2") != std::string::npos);
}
