#include "lib/mount.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "lib/fs_util.h"
#include "lib/temp_dir.h"

// CppUTest comes last: its leak-detection macros break standard headers.
#include <CppUTest/TestHarness.h>

using namespace kata;
namespace km = kata::mount;

// Mounting needs CAP_SYS_ADMIN. Everything happens on tmpfs mounts inside a temp dir, and the
// temp dir is unmounted recursively in teardown even when a test fails half-way.
TEST_GROUP(Mount) {
  TempDir dir;
  bool root = geteuid() == 0;
  void setup() override {
    if (!root) {
      fprintf(stderr, "\n[Mount tests skipped: they need root to call mount(2)]\n");
      return;
    }
    dir = std::move(TempDir::create("mount-test-").value());
  }
  void teardown() override {
    if (root) CHECK(km::unmountAllUnder(dir.path()).ok());
  }
  std::string mkdir(const std::string& rel) {
    std::string p = dir.path() + "/" + rel;
    CHECK(mkdirAll(p, 0755).ok());
    return p;
  }
  bool mounted(const std::string& p) { return km::isMountPoint(p).value(); }
};

TEST(Mount, TmpfsMountAndUnmount) {
  if (!root) return;
  std::string t = mkdir("t");
  CHECK_FALSE(mounted(t));
  CHECK(km::mount("tmpfs", t, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755").ok());
  CHECK(mounted(t));
  CHECK(writeFileAtomic(t + "/f", "x", 0600).ok());
  CHECK(km::unmount(t).ok());
  CHECK_FALSE(mounted(t));
  struct stat st;
  CHECK(stat((t + "/f").c_str(), &st) != 0);  // the file lived on the tmpfs
}

TEST(Mount, ErrorNamesEveryArgument) {
  if (!root) return;
  std::string t = mkdir("t");
  auto r = km::mount("src-x", t, "nosuchfs", MS_NOSUID | MS_RDONLY, "opt=1");
  CHECK_FALSE(r.ok());
  const std::string& m = r.error().message;
  CHECK(m.find("source=src-x") != std::string::npos);
  CHECK(m.find("target=" + t) != std::string::npos);
  CHECK(m.find("type=nosuchfs") != std::string::npos);
  CHECK(m.find("MS_RDONLY|MS_NOSUID") != std::string::npos);
  CHECK(m.find("data=\"opt=1\"") != std::string::npos);
  LONGS_EQUAL(ENODEV, r.error().code);
}

TEST(Mount, ReadonlyBindIsReadonly) {
  if (!root) return;
  std::string src = mkdir("src"), dst = mkdir("dst");
  CHECK(km::mount("tmpfs", src, "tmpfs", 0, "size=1m").ok());
  CHECK(writeFileAtomic(src + "/f", "data", 0644).ok());
  CHECK(km::bind(src, dst, false, true).ok());
  STRCMP_EQUAL("data", readFile(dst + "/f", 10).value().c_str());
  auto w = writeFileAtomic(dst + "/g", "x", 0644);
  CHECK_FALSE(w.ok());
  LONGS_EQUAL(EROFS, w.error().code);
  CHECK(writeFileAtomic(src + "/g", "x", 0644).ok());  // the source stays writable
}

TEST(Mount, RecursiveBindCarriesSubmounts) {
  if (!root) return;
  std::string src = mkdir("src"), dst = mkdir("dst");
  CHECK(km::mount("tmpfs", src, "tmpfs", 0, "size=1m").ok());
  CHECK(mkdirAll(src + "/sub", 0755).ok());
  CHECK(km::mount("tmpfs", src + "/sub", "tmpfs", 0, "size=1m").ok());
  CHECK(writeFileAtomic(src + "/sub/inner", "i", 0644).ok());
  CHECK(km::bind(src, dst, true, false).ok());
  CHECK(readFile(dst + "/sub/inner", 10).ok());
  std::string plain = mkdir("plain");
  CHECK(km::bind(src, plain, false, false).ok());
  CHECK_FALSE(readFile(plain + "/sub/inner", 10).ok());
}

TEST(Mount, UnmountOfUnmountedOrMissingIsSuccess) {
  if (!root) return;
  CHECK(km::unmount(mkdir("never")).ok());
  CHECK(km::unmount(dir.path() + "/does-not-exist").ok());
}

TEST(Mount, PropagationFlags) {
  if (!root) return;
  std::string t = mkdir("t");
  CHECK(km::mount("tmpfs", t, "tmpfs", 0, "size=1m").ok());
  CHECK(km::setPropagation(t, MS_PRIVATE, true).ok());
  CHECK(km::setPropagation(t, MS_SHARED, false).ok());
  auto bad = km::setPropagation(t, MS_BIND, false);
  CHECK_FALSE(bad.ok());
  LONGS_EQUAL(EINVAL, bad.error().code);
}

TEST(Mount, UnmountAllUnderIsDeepestFirstAndRespectsPrefix) {
  if (!root) return;
  std::string a = mkdir("a"), sibling = mkdir("ab");
  CHECK(km::mount("tmpfs", a, "tmpfs", 0, "size=1m").ok());
  CHECK(mkdirAll(a + "/b/c", 0755).ok());
  CHECK(km::mount("tmpfs", a + "/b", "tmpfs", 0, "size=1m").ok());
  CHECK(mkdirAll(a + "/b/c", 0755).ok());
  CHECK(km::mount("tmpfs", a + "/b/c", "tmpfs", 0, "size=1m").ok());
  CHECK(km::mount("tmpfs", a + "/b/c", "tmpfs", 0, "size=1m").ok());  // stacked
  CHECK(km::mount("tmpfs", sibling, "tmpfs", 0, "size=1m").ok());
  CHECK(km::unmountAllUnder(a + "/").ok());
  CHECK_FALSE(mounted(a));
  CHECK(mounted(sibling));  // "ab" is not below "a"
}

TEST(Mount, ScopedMountUnmountsUnlessReleased) {
  if (!root) return;
  std::string t = mkdir("t"), u = mkdir("u");
  {
    CHECK(km::mount("tmpfs", t, "tmpfs", 0, "size=1m").ok());
    km::ScopedMount guard(t);
    CHECK(mounted(t));
  }
  CHECK_FALSE(mounted(t));
  {
    CHECK(km::mount("tmpfs", u, "tmpfs", 0, "size=1m").ok());
    km::ScopedMount guard(u);
    STRCMP_EQUAL(u.c_str(), guard.release().c_str());
  }
  CHECK(mounted(u));
}

TEST(Mount, IsMountPointOfMissingPathIsError) {
  if (!root) return;
  auto r = km::isMountPoint(dir.path() + "/nope");
  CHECK_FALSE(r.ok());
  LONGS_EQUAL(ENOENT, r.error().code);
}
