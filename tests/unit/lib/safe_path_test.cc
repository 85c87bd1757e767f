#include "lib/safe_path.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <string>

#include "lib/fs_util.h"
#include "lib/temp_dir.h"

// CppUTest comes last: its leak-detection macros break standard headers.
#include <CppUTest/TestHarness.h>

using namespace kata;
namespace sp = kata::safepath;

namespace {

void writeFile(const std::string& p, const std::string& data) {
  CHECK(writeFileAtomic(p, data, 0644).ok());
}

std::string readFd(int fd) {
  std::string out;
  char buf[256];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

std::string canonical(const std::string& p) {
  char buf[PATH_MAX];
  CHECK(realpath(p.c_str(), buf) != nullptr);
  return buf;
}

}  // namespace

// Every test runs twice: once with openat2 and once with the manual component walk.
TEST_GROUP(SafePath) {
  TempDir base;
  std::string root, outside;
  UniqueFd rootFd;

  void setup() override {
    base = std::move(TempDir::create("safe-path-test-").value());
    root = canonical(base.path()) + "/root";
    outside = canonical(base.path()) + "/outside";
    CHECK(mkdirAll(root + "/etc", 0755).ok());
    CHECK(mkdirAll(root + "/dir/sub", 0755).ok());
    CHECK(mkdirAll(outside + "/etc", 0755).ok());
    writeFile(root + "/etc/passwd", "inside");
    writeFile(outside + "/etc/passwd", "outside");
    writeFile(root + "/file", "f");
    // Each of these would leave the root if a naive resolver followed it.
    CHECK(symlink("/etc", (root + "/abs").c_str()) == 0);
    CHECK(symlink("../../../../../../etc", (root + "/dir/rel").c_str()) == 0);
    CHECK(symlink(outside.c_str(), (root + "/hostpath").c_str()) == 0);
    CHECK(symlink("loop2", (root + "/loop1").c_str()) == 0);
    CHECK(symlink("loop1", (root + "/loop2").c_str()) == 0);
    CHECK(symlink("/newdir/newfile", (root + "/dangling").c_str()) == 0);
    CHECK(symlink("/etc/notyet", (root + "/danglingfile").c_str()) == 0);
    CHECK(symlink("sub", (root + "/dir/tosub").c_str()) == 0);
    rootFd = std::move(sp::openRoot(root).value());
  }
  void teardown() override { sp::forceFallbackForTesting(false); }

  void both(const std::function<void()>& body) {
    for (bool fallback : {false, true}) {
      sp::forceFallbackForTesting(fallback);
      body();
    }
    sp::forceFallbackForTesting(false);
  }

  std::string readIn(const std::string& path) {
    auto fd = sp::openInRoot(rootFd.get(), path, O_RDONLY);
    if (!fd.ok()) return "error: " + fd.error().str();
    return readFd(fd->get());
  }
};

TEST(SafePath, KernelHasOpenat2AndHookForcesFallback) {
  CHECK(sp::openat2Available());  // Linux >= 5.6 on every machine we build on
  sp::forceFallbackForTesting(true);
  CHECK_FALSE(sp::openat2Available());
}

TEST(SafePath, DotDotCannotLeaveRoot) {
  both([&] {
    STRCMP_EQUAL("inside", readIn("../../../../etc/passwd").c_str());
    STRCMP_EQUAL("inside", readIn("/../etc/../../etc/passwd").c_str());
    STRCMP_EQUAL("inside", readIn("dir/sub/../../etc/passwd").c_str());
  });
}

TEST(SafePath, AbsoluteSymlinkIsRelativeToRoot) {
  both([&] {
    STRCMP_EQUAL("inside", readIn("abs/passwd").c_str());
    STRCMP_EQUAL("inside", readIn("/abs/../abs/passwd").c_str());
  });
}

TEST(SafePath, RelativeSymlinkEscapeIsClamped) {
  both([&] { STRCMP_EQUAL("inside", readIn("dir/rel/passwd").c_str()); });
}

TEST(SafePath, SymlinkToHostPathStaysInside) {
  both([&] {
    auto r = sp::openInRoot(rootFd.get(), "hostpath/etc/passwd", O_RDONLY);
    CHECK_FALSE(r.ok());  // <root>/<outside>/etc/passwd does not exist
    LONGS_EQUAL(ENOENT, r.error().code);
  });
}

TEST(SafePath, SymlinkLoopIsEloop) {
  both([&] {
    auto r = sp::openInRoot(rootFd.get(), "loop1", O_RDONLY);
    CHECK_FALSE(r.ok());
    LONGS_EQUAL(ELOOP, r.error().code);
    CHECK(r.error().message.find("loop1") != std::string::npos);
  });
}

TEST(SafePath, MagicLinksAreNotFollowed) {
  // With /proc/self as the root, fd/N is a magic link to a host file outside that root.
  int outsideFd = open((outside + "/etc/passwd").c_str(), O_RDONLY | O_CLOEXEC);
  CHECK(outsideFd >= 0);
  auto procRoot = sp::openRoot("/proc/self");
  CHECK(procRoot.ok());
  both([&] {
    auto r = sp::openInRoot(procRoot->get(), "fd/" + std::to_string(outsideFd), O_RDONLY);
    CHECK_FALSE(r.ok());
  });
  close(outsideFd);
}

TEST(SafePath, CreateThroughSymlinkLandsInsideRoot) {
  both([&] {
    unlink((root + "/etc/created").c_str());
    auto fd = sp::openInRoot(rootFd.get(), "abs/created", O_WRONLY | O_CREAT | O_EXCL, 0640);
    CHECK(fd.ok());
    struct stat st;
    CHECK(stat((root + "/etc/created").c_str(), &st) == 0);
    LONGS_EQUAL(0, stat((outside + "/etc/created").c_str(), &st) == 0);
    CHECK(stat("/etc/created", &st) != 0);
  });
}

TEST(SafePath, NoFollowOpensTheLinkItself) {
  both([&] {
    auto link = sp::openInRoot(rootFd.get(), "abs", O_PATH | O_NOFOLLOW);
    CHECK(link.ok());
    struct stat st;
    CHECK(fstat(link->get(), &st) == 0);
    CHECK(S_ISLNK(st.st_mode));
    auto refused = sp::openInRoot(rootFd.get(), "abs", O_RDONLY | O_NOFOLLOW);
    CHECK_FALSE(refused.ok());
  });
}

TEST(SafePath, EmptyPathIsTheRoot) {
  both([&] {
    for (const char* p : {"", "/", ".", "dir/.."}) {
      auto fd = sp::openInRoot(rootFd.get(), p, O_RDONLY | O_DIRECTORY);
      CHECK(fd.ok());
      struct stat a, b;
      CHECK(fstat(fd->get(), &a) == 0 && stat(root.c_str(), &b) == 0);
      CHECK(a.st_ino == b.st_ino);
    }
  });
}

TEST(SafePath, FileAsDirectoryIsEnotdir) {
  both([&] {
    auto r = sp::openInRoot(rootFd.get(), "file/x", O_RDONLY);
    CHECK_FALSE(r.ok());
    LONGS_EQUAL(ENOTDIR, r.error().code);
  });
}

TEST(SafePath, MkdirAllStaysInsideRoot) {
  both([&] {
    CHECK(sp::mkdirAllInRoot(rootFd.get(), "abs/x/y", 0755).ok());
    struct stat st;
    CHECK(stat((root + "/etc/x/y").c_str(), &st) == 0 && S_ISDIR(st.st_mode));
    CHECK(stat((outside + "/etc/x").c_str(), &st) != 0);
    CHECK(sp::mkdirAllInRoot(rootFd.get(), "../../../up/down", 0755).ok());
    CHECK(stat((root + "/up/down").c_str(), &st) == 0);
    CHECK(sp::mkdirAllInRoot(rootFd.get(), "dir/tosub/deeper", 0755).ok());
    CHECK(stat((root + "/dir/sub/deeper").c_str(), &st) == 0);
    CHECK(sp::mkdirAllInRoot(rootFd.get(), "abs/x/y", 0755).ok());  // idempotent
    auto r = sp::mkdirAllInRoot(rootFd.get(), "file/sub", 0755);
    CHECK_FALSE(r.ok());
    LONGS_EQUAL(ENOTDIR, r.error().code);
    CHECK_FALSE(sp::mkdirAllInRoot(rootFd.get(), "loop1/x", 0755).ok());
    CHECK(removeAll(root + "/etc/x").ok());
    CHECK(removeAll(root + "/up").ok());
    CHECK(removeAll(root + "/dir/sub/deeper").ok());
  });
}

TEST(SafePath, MkdirAllCreatesDanglingSymlinkTargetInside) {
  both([&] {
    CHECK(sp::mkdirAllInRoot(rootFd.get(), "dangling", 0755).ok());
    struct stat st;
    CHECK(stat((root + "/newdir/newfile").c_str(), &st) == 0 && S_ISDIR(st.st_mode));
    CHECK(stat("/newdir", &st) != 0);
    CHECK(removeAll(root + "/newdir").ok());
  });
}

TEST(SafePath, ResolveGivesHostPathInsideRoot) {
  both([&] {
    STRCMP_EQUAL((root + "/etc/passwd").c_str(),
                 sp::resolveInRoot(root, "abs/passwd").value().c_str());
    STRCMP_EQUAL((root + "/etc").c_str(), sp::resolveInRoot(root, "dir/rel").value().c_str());
    STRCMP_EQUAL((root + "/missing").c_str(),
                 sp::resolveInRoot(root, "../../missing").value().c_str());
    STRCMP_EQUAL(root.c_str(), sp::resolveInRoot(root, "/").value().c_str());
    // A dangling symlink resolves to where its target would be, never to the link itself.
    STRCMP_EQUAL((root + "/etc/notyet").c_str(),
                 sp::resolveInRoot(root, "danglingfile").value().c_str());
    auto missingParent = sp::resolveInRoot(root, "no/such/thing");
    CHECK_FALSE(missingParent.ok());
    LONGS_EQUAL(ENOENT, missingParent.error().code);
    CHECK_FALSE(sp::resolveInRoot(root, "loop1").ok());
  });
}

TEST(SafePath, ProcFdPathAndOpenRootErrors) {
  STRCMP_EQUAL("/proc/self/fd/7", sp::procFdPath(7).c_str());
  auto r = sp::openRoot(root + "/file");
  CHECK_FALSE(r.ok());
  LONGS_EQUAL(ENOTDIR, r.error().code);
  CHECK(r.error().message.find(root + "/file") != std::string::npos);
}
