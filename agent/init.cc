#include "agent/init.h"

#include <fcntl.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <sstream>
#include <thread>

#include "lib/fs_util.h"
#include "lib/log.h"
#include "lib/unique_fd.h"

namespace kata::agent::init {

namespace {

Status mountIfNeeded(const char* source, const char* target, const char* fstype,
                     unsigned long flags, const char* data) {
  KATA_TRY(mkdirAll(target, 0755));
  // Base filesystems of the guest (we are its init: nobody else mounts them).
  if (::mount(source, target, fstype, flags, data) != 0 && errno != EBUSY) {
    return sysError(std::string("mount ") + fstype + " on " + target);
  }
  return okStatus();
}

}  // namespace

Status mountBaseFilesystems() {
  constexpr unsigned long kSafe = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  KATA_TRY(mountIfNeeded("proc", "/proc", "proc", kSafe, nullptr));
  KATA_TRY(mountIfNeeded("sysfs", "/sys", "sysfs", kSafe, nullptr));
  KATA_TRY(mountIfNeeded("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755"));
  KATA_TRY(mountIfNeeded("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
                         "ptmxmode=0666,mode=0620,gid=5"));
  KATA_TRY(mountIfNeeded("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"));
  KATA_TRY(mountIfNeeded("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755"));
  return okStatus();
}

Status mountCgroupHierarchies() {
  KATA_TRY(mountIfNeeded("cgroup_root", "/sys/fs/cgroup", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                         "mode=0755"));
  KATA_ASSIGN_OR_RETURN(auto text, readFile("/proc/cgroups", 1 << 20));
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::string name;
    int hierarchy = 0, count = 0, enabled = 0;
    if (!(words >> name >> hierarchy >> count >> enabled) || !enabled) continue;
    std::string target = "/sys/fs/cgroup/" + name;
    auto s = mountIfNeeded("cgroup", target.c_str(), "cgroup", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                           name.c_str());
    if (!s.ok()) log::warn("cgroup controller not mounted", {{"error", s.error().str()}});
  }
  return okStatus();
}

Status setupLoopback() {
  UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock) return sysError("socket");
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(sock.get(), SIOCGIFFLAGS, &ifr) != 0) return sysError("get lo flags");
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (::ioctl(sock.get(), SIOCSIFFLAGS, &ifr) != 0) return sysError("bring lo up");
  return okStatus();
}

void startDebugConsole(Reaper& reaper) {
  std::thread([&reaper] {
    for (;;) {
      if (::access("/bin/sh", X_OK) != 0) {
        log::warn("debug console requested but the image has no /bin/sh");
        return;
      }
      auto exited = std::make_shared<std::pair<std::mutex, std::condition_variable>>();
      auto done = std::make_shared<bool>(false);
      pid_t pid;
      {
        auto lock = reaper.spawnLock();
        pid = ::fork();
        if (pid == 0) {
          resetSignalsInChild();
          ::setsid();
          int fd = ::open("/dev/console", O_RDWR);
          if (fd < 0) ::_exit(1);
          // The console becomes the shell's controlling terminal (job control, ^C).
          ::ioctl(fd, TIOCSCTTY, 1);
          ::dup2(fd, 0);
          ::dup2(fd, 1);
          ::dup2(fd, 2);
          ::close_range(3, ~0U, 0);
          const char* argv[] = {"/bin/sh", nullptr};
          const char* envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TERM=vt100", nullptr};
          ::execve("/bin/sh", const_cast<char**>(argv), const_cast<char**>(envp));
          ::_exit(127);
        }
        if (pid > 0) {
          reaper.watch(lock, pid, [exited, done](int) {
            std::lock_guard<std::mutex> l(exited->first);
            *done = true;
            exited->second.notify_all();
          });
        }
      }
      if (pid < 0) {
        log::error("debug console: fork failed", {{"error", sysError("fork").str()}});
        return;
      }
      log::info("debug console started", {{"pid", std::to_string(pid)}});
      std::unique_lock<std::mutex> l(exited->first);
      exited->second.wait(l, [&] { return *done; });
      l.unlock();
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }).detach();
}

[[noreturn]] void powerOff(const std::string& reason) {
  log::info("powering off", {{"reason", reason}});
  ::sync();
  // PID 1 must not exit; the VM ends here.
  ::reboot(RB_POWER_OFF);
  log::error("power off failed", {{"error", sysError("reboot").str()}});
  for (;;) ::pause();
}

}  // namespace kata::agent::init
