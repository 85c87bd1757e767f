// The shared directory as a hostile guest meets it: every scenario runs in a child process in a
// mount namespace of its own, once with "/" shared (systemd's default on real hosts) and once
// private, so that propagation is tested both ways and nothing reaches the host's mounts. The
// guest's view is the exported directory (what QEMU or virtiofsd serve): whatever the guest
// does through the share, QEMU does to these paths.
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "lib/fs_util.h"
#include "lib/mount.h"
#include "lib/temp_dir.h"
#include "runtime/virtcontainers/shared_dir.h"
#include "runtime/virtcontainers/store.h"

// CppUTest comes last: its leak-detection macros break standard headers.
#include <CppUTest/TestHarness.h>

namespace {

namespace shared = kata::vc::shared;
using Scenario = std::function<std::string(const std::string& base)>;

// Runs `scenario` in a forked child with its own mount namespace ("/" made rshared or
// rprivate there), a scratch dir and KATA_VC_RUN_DIR below it. Returns the child's verdict:
// "" when it passed, else what failed.
std::string runIsolated(bool sharedRoot, const Scenario& scenario) {
  char tmpl[] = "/tmp/shared-dir-test-XXXXXX";
  if (!mkdtemp(tmpl)) return "mkdtemp failed";
  int fds[2];
  if (pipe(fds) != 0) return "pipe failed";
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    std::string verdict;
    // A private copy of the host's mounts first (nothing done here reaches the host), then the
    // propagation under test. The namespace dies with the child and takes its mounts along.
    if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) ||
        (sharedRoot && mount(nullptr, "/", nullptr, MS_REC | MS_SHARED, nullptr))) {
      verdict = std::string("mount namespace: ") + strerror(errno);
    } else {
      setenv("KATA_VC_RUN_DIR", (std::string(tmpl) + "/run").c_str(), 1);
      verdict = scenario(tmpl);
    }
    if (!verdict.empty()) (void)!write(fds[1], verdict.data(), verdict.size());
    _exit(verdict.empty() ? 0 : 1);
  }
  close(fds[1]);
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) out.append(buf, size_t(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!kata::removeAll(tmpl).ok() && out.empty()) out = std::string("could not remove ") + tmpl;
  if (!WIFEXITED(status)) return "scenario crashed";
  if (WEXITSTATUS(status) != 0 && out.empty()) return "scenario failed without a message";
  return out;
}

void runBoth(const Scenario& scenario) {
  for (bool sharedRoot : {true, false}) {
    std::string verdict = runIsolated(sharedRoot, scenario);
    if (!verdict.empty()) {
      FAIL((std::string(sharedRoot ? "[/ shared] " : "[/ private] ") + verdict).c_str());
    }
  }
}

std::string sh(const std::string& cmd) {
  return system(("sh -c '" + cmd + "' >/dev/null 2>&1").c_str()) == 0 ? ""
                                                                      : "command failed: " + cmd;
}

bool mounted(const std::string& path) {
  auto r = kata::mount::isMountRoot(path);
  return r.ok() && *r;
}

// Writing to `path` (creating it) fails with EROFS.
std::string expectReadOnly(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd >= 0) {
    close(fd);
    return "writable: " + path;
  }
  if (errno != EROFS) return "write to " + path + " failed with " + strerror(errno) + ", not EROFS";
  return "";
}

// The mount options of every mount whose mount point contains `needle` (mountinfo field 6).
std::vector<std::pair<std::string, std::string>> mountOptions(const std::string& needle) {
  std::vector<std::pair<std::string, std::string>> out;
  auto info = kata::readFile("/proc/self/mountinfo", 1 << 24);
  if (!info.ok()) return out;
  size_t pos = 0;
  while (pos < info->size()) {
    size_t end = info->find('\n', pos);
    std::string line = info->substr(pos, end - pos);
    pos = end == std::string::npos ? info->size() : end + 1;
    std::vector<std::string> f;
    size_t s = 0;
    while (f.size() < 6) {
      size_t e = line.find(' ', s);
      f.push_back(line.substr(s, e - s));
      if (e == std::string::npos) break;
      s = e + 1;
    }
    if (f.size() == 6 && f[4].find(needle) != std::string::npos) out.push_back({f[4], f[5]});
  }
  return out;
}

bool hasOpt(const std::string& opts, const std::string& o) {
  return ("," + opts + ",").find("," + o + ",") != std::string::npos;
}

// A user's volume: vol/f, and a tmpfs of the user's own at vol/sub holding vol/sub/g.
std::string makeVolume(const std::string& vol) {
  return sh("mkdir -p " + vol + "/sub && echo f > " + vol + "/f && mount -t tmpfs user-tmpfs " +
            vol + "/sub && echo g > " + vol + "/sub/g");
}

}  // namespace

TEST_GROUP(SharedDir){};

TEST(SharedDir, ReadOnlyVolumeIsReadOnlyOnEveryCopyAndDeleteKeepsTheUsersMounts) {
  runBoth([](const std::string& base) -> std::string {
    const std::string vol = base + "/vol";
    if (auto e = makeVolume(vol); !e.empty()) return e;
    if (auto st = shared::setup("sb"); !st.ok()) return st.error().str();
    auto f = shared::shareHostPath("sb", "c1", vol, /*readonly=*/true, /*recursive=*/true);
    if (!f.ok()) return f.error().str();
    const std::string name = f->hostMount.substr(f->hostMount.rfind('/') + 1);
    if (f->guestPath != std::string(shared::kGuestSharedDir) + "/c1/" + name)
      return "guest path " + f->guestPath;
    const std::string guestView = shared::exportDir("sb") + "/c1/" + name;
    for (const std::string& dir : {f->hostMount, guestView}) {
      for (const char* rel : {"/f", "/new", "/sub/g", "/sub/new"}) {
        if (auto e = expectReadOnly(dir + rel); !e.empty()) return e;
      }
    }
    // Every copy of the volume's mounts, the nested tmpfs's included, is ro, nosuid, nodev.
    auto copies = mountOptions("/c1/" + name);
    if (copies.size() != 4)
      return "expected 4 mounts of the volume, got " + std::to_string(copies.size());
    for (const auto& [point, opts] : copies) {
      for (const char* o : {"ro", "nosuid", "nodev"})
        if (!hasOpt(opts, o)) return point + " lacks " + o + ": " + opts;
    }
    if (auto st = shared::teardown("sb"); !st.ok()) return "teardown: " + st.error().str();
    if (!mounted(vol + "/sub")) return "teardown unmounted the user's own mount at vol/sub";
    if (auto c = kata::readFile(vol + "/sub/g", 64); !c.ok() || *c != "g\n")
      return "the user's file vol/sub/g is gone";
    if (!mountOptions("/sandboxes/sb").empty()) return "mounts left in the sandbox's shared dir";
    struct stat st;
    if (lstat(kata::vc::StorePaths::sharedDir("sb").c_str(), &st) == 0) return "shared dir left";
    return "";
  });
}

TEST(SharedDir, TeardownIgnoresSymlinksTheGuestPlantsAboveNestedMounts) {
  runBoth([](const std::string& base) -> std::string {
    // The rootfs holds a mount of the user's at a/m; a canary mount stands elsewhere on the host.
    const std::string rootfs = base + "/rootfs", canary = base + "/canary";
    if (auto e =
            sh("mkdir -p " + rootfs + "/a/m " + canary + "/m && mount -t tmpfs u " + rootfs +
               "/a/m && mount -t tmpfs canary " + canary + "/m && echo c > " + canary + "/m/c");
        !e.empty())
      return e;
    if (auto st = shared::setup("sb"); !st.ok()) return st.error().str();
    auto r = shared::shareRootfs("sb", "c1", rootfs, false);
    if (!r.ok()) return r.error().str();
    // The guest moves a/ away and puts a symlink to the canary's parent in its place.
    const std::string guestRoot = shared::exportDir("sb") + "/c1/rootfs";
    if (rename((guestRoot + "/a").c_str(), (guestRoot + "/b").c_str()) != 0)
      return std::string("rename in the guest view: ") + strerror(errno);
    if (symlink(canary.c_str(), (guestRoot + "/a").c_str()) != 0)
      return std::string("symlink in the guest view: ") + strerror(errno);
    if (auto st = shared::unshareContainer("sb", "c1"); !st.ok()) return st.error().str();
    if (!mounted(canary + "/m")) return "the canary mount was unmounted through the symlink";
    if (!mounted(rootfs + "/b/m")) return "the user's own mount in the rootfs was unmounted";
    if (!mountOptions("/sandboxes/sb/mounts/c1").empty()) return "container mounts left";
    if (auto st = shared::teardown("sb"); !st.ok()) return "teardown: " + st.error().str();
    return "";
  });
}

TEST(SharedDir, PlainBindLeavesNestedMountsOutAndRbindTakesThem) {
  runBoth([](const std::string& base) -> std::string {
    const std::string vol = base + "/vol";
    if (auto e = makeVolume(vol); !e.empty()) return e;
    if (auto st = shared::setup("sb"); !st.ok()) return st.error().str();
    auto plain = shared::shareHostPath("sb", "c1", vol, false, false);
    auto rec = shared::shareHostPath("sb", "c1", vol, false, true);
    if (!plain.ok() || !rec.ok()) return "share failed";
    struct stat st;
    if (stat((plain->hostMount + "/sub/g").c_str(), &st) == 0) return "bind carried vol/sub";
    if (stat((rec->hostMount + "/sub/g").c_str(), &st) != 0) return "rbind lost vol/sub";
    // Writable volumes stay writable (and nosuid, nodev).
    if (auto e = sh("echo w > " + rec->hostMount + "/sub/w"); !e.empty()) return e;
    for (const auto& [point, opts] : mountOptions("/c1/")) {
      if (hasOpt(opts, "ro") || !hasOpt(opts, "nosuid") || !hasOpt(opts, "nodev"))
        return point + ": " + opts;
    }
    if (auto s = shared::teardown("sb"); !s.ok()) return "teardown: " + s.error().str();
    if (!mounted(vol + "/sub")) return "teardown unmounted vol/sub";
    return "";
  });
}

TEST(SharedDir, ReadOnlyRootfsAndASecondShareOfTheSameContainer) {
  runBoth([](const std::string& base) -> std::string {
    const std::string rootfs = base + "/rootfs";
    if (auto e = sh("mkdir -p " + rootfs + "/bin && echo x > " + rootfs + "/bin/x"); !e.empty())
      return e;
    if (auto st = shared::setup("sb"); !st.ok()) return st.error().str();
    auto r = shared::shareRootfs("sb", "c1", rootfs, true);
    if (!r.ok()) return r.error().str();
    const std::string guestRoot = shared::exportDir("sb") + "/c1/rootfs";
    if (auto e = expectReadOnly(guestRoot + "/bin/x"); !e.empty()) return e;
    if (auto e = expectReadOnly(guestRoot + "/bin/new"); !e.empty()) return e;
    // A duplicate never stacks on the first one's mount.
    auto again = shared::shareRootfs("sb", "c1", rootfs, false);
    if (again.ok()) return "a second rootfs share of c1 succeeded";
    if (auto e = expectReadOnly(guestRoot + "/bin/new"); !e.empty())
      return "after the duplicate: " + e;
    // The guest's own view of the share is read-only outside the container mounts.
    if (auto e = expectReadOnly(shared::exportDir("sb") + "/c1/planted"); !e.empty()) return e;
    if (auto s = shared::teardown("sb"); !s.ok()) return "teardown: " + s.error().str();
    return "";
  });
}

TEST(SharedDir, HostSystemPathsAreRecognisedHoweverSpelled) {
  auto tmp = kata::TempDir::create("sysp");
  CHECK_TRUE(tmp.ok());
  const std::string link = tmp->path() + "/sys-link";
  CHECK_EQUAL(0, symlink("/sys/kernel", link.c_str()));
  CHECK_EQUAL(0, mkdir((tmp->path() + "/x").c_str(), 0755));
  for (const std::string& p :
       {std::string("//proc"), std::string("/proc/self"), tmp->path() + "/x/../../../sys", link,
        std::string("/dev/null"), std::string("/dev/pts")}) {
    auto r = shared::isHostSystemPath(p);
    CHECK_TRUE_TEXT(r.ok(), p.c_str());
    CHECK_TRUE_TEXT(*r, p.c_str());
  }
  auto plain = shared::isHostSystemPath(tmp->path() + "/x");
  CHECK_TRUE(plain.ok());
  CHECK_FALSE(*plain);
  CHECK_FALSE(shared::isHostSystemPath(tmp->path() + "/missing").ok());
}
