#include "lib/fs_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "lib/temp_dir.h"

// CppUTest comes last: its leak-detection macros break standard headers.
#include <CppUTest/TestHarness.h>

using namespace kata;

namespace {

bool exists(const std::string& p) {
  struct stat st;
  return lstat(p.c_str(), &st) == 0;
}

void writeFile(const std::string& p, const std::string& data) {
  int fd = open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  CHECK(fd >= 0);
  CHECK(write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()));
  close(fd);
}

}  // namespace

static int countEntries(const std::string& path) {
  int count = 0;
  DIR* d = opendir(path.c_str());
  while (auto* e = readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") count++;
  }
  closedir(d);
  return count;
}

TEST_GROUP(FsUtil) {
  TempDir dir;
  void setup() override { dir = std::move(TempDir::create("fs-util-test-").value()); }
};

TEST(FsUtil, MkdirAllCreatesNestedAndAcceptsExisting) {
  std::string p = dir.path() + "/a/b/c";
  CHECK(mkdirAll(p, 0750).ok());
  struct stat st;
  CHECK(stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode));
  CHECK(mkdirAll(p, 0750).ok());
  CHECK(mkdirAll(p + "/", 0750).ok());
}

TEST(FsUtil, MkdirAllFailsOnFileComponent) {
  writeFile(dir.path() + "/f", "x");
  auto r = mkdirAll(dir.path() + "/f/sub", 0755);
  CHECK_FALSE(r.ok());
  LONGS_EQUAL(ENOTDIR, r.error().code);
}

TEST(FsUtil, ReadFileBoundsSize) {
  writeFile(dir.path() + "/f", "hello");
  STRCMP_EQUAL("hello", readFile(dir.path() + "/f", 5).value().c_str());
  auto big = readFile(dir.path() + "/f", 4);
  CHECK_FALSE(big.ok());
  LONGS_EQUAL(EFBIG, big.error().code);
  auto missing = readFile(dir.path() + "/nope", 10);
  LONGS_EQUAL(ENOENT, missing.error().code);
  CHECK(missing.error().message.find(dir.path() + "/nope") != std::string::npos);
}

TEST(FsUtil, WriteFileAtomicReplacesWithExactModeAndNoLeftovers) {
  std::string p = dir.path() + "/state.json";
  CHECK(writeFileAtomic(p, "one", 0640).ok());
  CHECK(writeFileAtomic(p, "two", 0600).ok());
  STRCMP_EQUAL("two", readFile(p, 100).value().c_str());
  struct stat st;
  CHECK(stat(p.c_str(), &st) == 0);
  LONGS_EQUAL(0600, st.st_mode & 0777);
  LONGS_EQUAL(1, countEntries(dir.path()));  // no temp file left behind
}

TEST(FsUtil, WriteFileAtomicReportsMissingDir) {
  auto r = writeFileAtomic(dir.path() + "/no/such/file", "x", 0600);
  CHECK_FALSE(r.ok());
  LONGS_EQUAL(ENOENT, r.error().code);
}

TEST(FsUtil, ReaderNeverSeesPartialContent) {
  std::string p = dir.path() + "/f";
  std::string a(200000, 'a'), b(200000, 'b');
  CHECK(writeFileAtomic(p, a, 0600).ok());
  pid_t pid = fork();
  if (pid == 0) {
    for (int i = 0; i < 50; i++) (void)writeFileAtomic(p, i % 2 ? a : b, 0600);
    _exit(0);
  }
  bool torn = false;
  for (int i = 0; i < 200; i++) {
    auto r = readFile(p, 1 << 20);
    if (!r.ok()) continue;
    if (*r != a && *r != b) torn = true;
  }
  int status;
  waitpid(pid, &status, 0);
  CHECK_FALSE(torn);
}

TEST(FsUtil, RemoveAllDoesNotFollowSymlinks) {
  auto outside = TempDir::create("fs-util-outside-").value();
  writeFile(outside.path() + "/precious", "keep");
  CHECK(mkdirAll(dir.path() + "/tree/sub", 0755).ok());
  writeFile(dir.path() + "/tree/sub/file", "x");
  CHECK(symlink(outside.path().c_str(), (dir.path() + "/tree/link").c_str()) == 0);
  CHECK(symlink(outside.path().c_str(), (dir.path() + "/tree/sub/link2").c_str()) == 0);
  CHECK(removeAll(dir.path() + "/tree").ok());
  CHECK_FALSE(exists(dir.path() + "/tree"));
  CHECK(exists(outside.path() + "/precious"));
  // A symlink given as the path itself is removed, not its target.
  CHECK(symlink(outside.path().c_str(), (dir.path() + "/top").c_str()) == 0);
  CHECK(removeAll(dir.path() + "/top").ok());
  CHECK(exists(outside.path() + "/precious"));
  CHECK(removeAll(dir.path() + "/never-existed").ok());
}
