#include "lib/temp_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

// CppUTest comes last: its leak-detection macros break standard headers.
#include <CppUTest/TestHarness.h>

using kata::TempDir;

namespace {
bool exists(const std::string& p) {
  struct stat st;
  return lstat(p.c_str(), &st) == 0;
}
}  // namespace

TEST_GROUP(TempDir){};

TEST(TempDir, CreatesPrivateDirAndRemovesItRecursively) {
  std::string path, outsideFile;
  auto outside = TempDir::create("tempdir-outside-").value();
  outsideFile = outside.path() + "/keep";
  close(open(outsideFile.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
  {
    auto t = TempDir::create("tempdir-test-");
    CHECK(t.ok());
    path = t->path();
    CHECK(path.rfind("/tmp/tempdir-test-", 0) == 0 || getenv("TMPDIR"));
    struct stat st;
    CHECK(stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode));
    LONGS_EQUAL(0700, st.st_mode & 0777);
    CHECK(mkdir((path + "/sub").c_str(), 0755) == 0);
    close(open((path + "/sub/f").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
    CHECK(symlink(outside.path().c_str(), (path + "/link").c_str()) == 0);
  }
  CHECK_FALSE(exists(path));
  CHECK(exists(outsideFile));  // the symlink was removed, not followed
}

TEST(TempDir, ReleaseKeepsTheDirectory) {
  std::string path;
  {
    auto t = TempDir::create("tempdir-test-").value();
    path = t.release();
    CHECK(t.path().empty());
  }
  CHECK(exists(path));
  CHECK(rmdir(path.c_str()) == 0);
}

TEST(TempDir, MoveTransfersOwnership) {
  auto a = TempDir::create("tempdir-test-").value();
  std::string path = a.path();
  TempDir b = std::move(a);
  CHECK(a.path().empty());
  STRCMP_EQUAL(path.c_str(), b.path().c_str());
  CHECK(exists(path));
}

TEST(TempDir, FailsInMissingParent) {
  auto t = TempDir::create("/nonexistent-dir-for-test/x-");
  CHECK_FALSE(t.ok());
  CHECK(t.error().message.find("/nonexistent-dir-for-test/x-") != std::string::npos);
}
