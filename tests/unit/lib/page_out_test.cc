#include "lib/page_out.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "lib/temp_dir.h"
#include "lib/unique_fd.h"
#include "tests/unit/mapped_file_util.h"

// CppUTest comes last: its leak-detection macros break standard headers.
#include <CppUTest/TestHarness.h>

using namespace kata;

using kata::testing::kFileBytes;
using kata::testing::makeMappedFile;
using kata::testing::mapAndTouch;
using kata::testing::residentKb;

TEST_GROUP(PageOut) {
  TempDir dir;
  void setup() override { dir = std::move(TempDir::create("page-out-test-").value()); }
};

TEST(PageOut, OwnMappingLeavesTheProcessAndComesBackOnTouch) {
  std::string path = makeMappedFile(dir);
  const volatile char* c = mapAndTouch(path);
  CHECK(residentKb(getpid(), path) >= 1000);

  auto advised = pageOutOwnFileMappings(path);
  CHECK_TRUE(advised.ok());
  UNSIGNED_LONGS_EQUAL(kFileBytes, *advised);
  CHECK(residentKb(getpid(), path) < 100);

  CHECK_EQUAL('k', c[kFileBytes / 2]);  // still readable: a fault maps it back
  CHECK(residentKb(getpid(), path) > 0);
  munmap(const_cast<char*>(c), kFileBytes);
}

TEST(PageOut, AnotherProcessThroughItsPidfd) {
  std::string path = makeMappedFile(dir);
  int ready[2];
  CHECK(pipe2(ready, O_CLOEXEC) == 0);
  pid_t child = fork();
  if (child == 0) {
    mapAndTouch(path);
    char b = 1;
    (void)!write(ready[1], &b, 1);
    pause();
    _exit(0);
  }
  close(ready[1]);
  char b;
  CHECK(read(ready[0], &b, 1) == 1);
  close(ready[0]);
  CHECK(residentKb(child, path) >= 1000);

  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, child, 0)));
  CHECK(pidfd.valid());
  auto advised = pageOutFileMappings(pidfd.get(), child, path);
  long after = residentKb(child, path);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  CHECK_TRUE(advised.ok());
  UNSIGNED_LONGS_EQUAL(kFileBytes, *advised);
  CHECK(after < 100);
}

TEST(PageOut, UnmappedFileIsNothingToDo) {
  std::string path = makeMappedFile(dir);
  auto advised = pageOutOwnFileMappings(path);
  CHECK_TRUE(advised.ok());
  UNSIGNED_LONGS_EQUAL(0, *advised);
}

TEST(PageOut, MissingFileIsAnError) {
  auto advised = pageOutOwnFileMappings(dir.path() + "/none");
  CHECK_FALSE(advised.ok());
  CHECK(advised.error().message.find("none") != std::string::npos);
}
